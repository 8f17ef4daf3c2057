"""The web demo end to end in a real headless Chromium (Debian's ``chromium`` and
``chromium-driver`` driven by Selenium; nothing is downloaded): the demo runs on a free
port of 127.0.0.1 for a checkpoint (in-process) and for an exported ONNX file (the
``tools/demo.py --model`` command); the page fetches nothing from elsewhere; a real cat photo is
uploaded through the page, and the translation and heatmap the page shows (downloaded
from their ``src`` and decoded) equal ``tools/translate.py``'s files for the same photo
within 1 grey level; a non-image upload shows its message in the page and the server
goes on translating (a greyscale photo next). A screenshot is saved in the test's tmp
folder, and to docs/demo_screenshot.png with NICEGAN_UPDATE_SCREENSHOT=1.

Without the browser these tests skip with one line saying how to get it (``pytest -ra``
prints it); CI's ``.ci/run`` installs it first, the test command never installs anything."""
import io
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from PIL import Image

#: the browser and its driver (Debian's packages; other places through these variables)
CHROMIUM = os.environ.get('NICEGAN_CHROMIUM', '/usr/bin/chromium')
CHROMEDRIVER = os.environ.get('NICEGAN_CHROMEDRIVER', '/usr/bin/chromedriver')
#: seconds to wait for the page to answer an upload
WAIT = 30
#: chromium flags: headless, no GPU, no network of its own, a fresh profile (added below)
CHROMIUM_FLAGS = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                  '--no-first-run', '--disable-background-networking',
                  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
                  '--window-size=1280,900')


def browser_or_skip() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.skip(f'browser test: {" and ".join(missing)} not found; to run it: '
                    'sudo apt-get install chromium chromium-driver (Debian/Ubuntu), or set '
                    'NICEGAN_CHROMIUM / NICEGAN_CHROMEDRIVER')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def fetch_image(url: str) -> np.ndarray:
    """The image at ``url`` (the local demo server; no proxy), decoded to RGB uint8."""
    assert url.startswith('http://127.0.0.1:'), url
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=WAIT) as response:
        return np.asarray(Image.open(io.BytesIO(response.read())).convert('RGB'))


def read_png(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert('RGB'))


def start_tool(root: str, tool: str, *args: str, stdout=None, env=None) -> subprocess.Popen:
    """``python <tool> <args>`` started in the project root ``root``; its output goes to
    ``stdout`` (a file, with stderr) or is kept for :func:`finish`."""
    return subprocess.Popen([sys.executable, tool, *args], cwd=root, text=True, env=env,
                            stdout=stdout or subprocess.PIPE,
                            stderr=subprocess.STDOUT if stdout else subprocess.PIPE)


def finish(proc: subprocess.Popen) -> None:
    """Wait for a tool started by :func:`start_tool`; fail with its stderr."""
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, f'{proc.args[:2]} failed:\n{err[-2000:]}'


def max_diff(a: np.ndarray, b: np.ndarray) -> int:
    assert a.shape == b.shape, (a.shape, b.shape)
    return int(np.abs(a.astype(int) - b.astype(int)).max())


@pytest.fixture(scope='module')
def files(request, tmp_path_factory, project_root, photo_paths):
    """A real cat photo as PNG (no JPEG decoding differences), a greyscale photo, a
    non-image; tools/translate.py's outputs for the photo (checkpoint, with heatmaps);
    an ONNX export (tools/export.py) and tools/translate.py --model's outputs for it
    (that one runs in the background while the checkpoint's page is tested)."""
    browser_or_skip()  # before the tiny checkpoint is trained
    cfg, ckpt = request.getfixturevalue('tiny_checkpoint')
    tmp = tmp_path_factory.mktemp('demo_browser')
    jpg = photo_paths('cat', 2)
    photo = str(tmp / 'cat.png')
    Image.open(jpg[0]).convert('RGB').save(photo)
    grey = str(tmp / 'grey_cat.png')
    Image.open(jpg[1]).convert('L').save(grey)
    text = str(tmp / 'notes.txt')
    with open(text, 'w') as f:
        f.write('this is not a photo\n')
    onnx, log_path, port = str(tmp / 'a2b.onnx'), str(tmp / 'demo_cli.log'), free_port()

    def tool(*args, **kwargs) -> subprocess.Popen:
        return start_tool(project_root, *args, **kwargs)
    ckpt_run = tool('tools/translate.py', cfg, ckpt, '--input', photo, '--output',
                    str(tmp / 'ckpt'), '--heatmaps', '--no-progress', '--device', 'cpu')
    finish(tool('tools/export.py', cfg, ckpt, '--out', onnx, '--heatmap', '--dynamic-size'))
    onnx_run = tool('tools/translate.py', '--model', onnx, '--input', photo, '--output',
                    str(tmp / 'onnx'), '--heatmaps', '--no-progress')
    log = open(log_path, 'w')
    onnx_demo = tool('tools/demo.py', '--model', onnx, '--port', str(port), stdout=log,
                     env={**os.environ, 'GRADIO_TEMP_DIR': str(tmp / 'gradio_cli')})
    finish(ckpt_run)
    yield dict(cfg=cfg, ckpt=ckpt, tmp=tmp, photo=photo, grey=grey, text=text, onnx=onnx,
               onnx_run=onnx_run, onnx_demo=onnx_demo, onnx_url=f'http://127.0.0.1:{port}/',
               onnx_log=log_path)
    for proc in (onnx_run, onnx_demo):  # stop what this fixture started
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    log.close()


@pytest.fixture(scope='module')
def browser(files):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # with the driver's path: no Selenium Manager
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f'--user-data-dir={files["tmp"] / "chromium_profile"}')
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


@pytest.fixture
def serve(files, monkeypatch):
    """serve(translators) -> URL of a demo on a free port of 127.0.0.1; stopped after
    the test."""
    from nicegan_plugin.apis.demo import TranslationDemo, build_app, launch_app
    monkeypatch.setenv('GRADIO_TEMP_DIR', str(files['tmp'] / 'gradio'))
    apps = []

    def start(translators):
        app = build_app(TranslationDemo(translators))
        apps.append(app)
        port = free_port()
        url = launch_app(app, '127.0.0.1', port, quiet=True)
        assert url.rstrip('/') == f'http://127.0.0.1:{port}', url
        return url
    yield start
    for app in apps:
        app.close()


class Page:
    """The demo page in the browser: upload, wait, read what it shows."""

    def __init__(self, driver, url: str) -> None:
        from selenium.webdriver.support.ui import WebDriverWait
        self.driver = driver
        self.wait = WebDriverWait(driver, WAIT)
        driver.get(url)
        self.file_input()

    def find(self, css: str):
        return self.driver.find_element('css selector', css)

    def file_input(self):
        return self.wait.until(lambda d: d.find_element(
            'css selector', '#photo input[type=file]'))

    def status(self) -> str:
        return self.find('#status').text

    def upload(self, path: str, expect: str) -> str:
        """Upload ``path`` (clearing the previous file) and wait until the status box
        says ``expect``; returns the status text."""
        clear = self.driver.find_elements('css selector', '#photo button[aria-label=Clear]')
        if clear:
            clear[0].click()
            self.wait.until(lambda d: 'Upload a photo' in self.status())
        self.file_input().send_keys(path)
        self.wait.until(lambda d: expect in self.status(),
                        message=f'status never said {expect!r}')
        return self.status()

    def image(self, elem_id: str) -> np.ndarray:
        src = self.wait.until(lambda d: self.find(f'#{elem_id} img').get_attribute('src'))
        return fetch_image(src)

    def images(self, elem_id: str) -> list:
        return self.driver.find_elements('css selector', f'#{elem_id} img')


def test_checkpoint_demo_in_the_browser(files, browser, serve, project_root):
    from nicegan_plugin.apis.demo import open_demo_translators
    url = serve(open_demo_translators(files['cfg'], files['ckpt']))
    page = Page(browser, url)
    # both directions offered, the first selected; native size offered (light model)
    radios = browser.find_elements('css selector', '#direction input[type=radio]')
    assert len(radios) == 2 and radios[0].is_selected()
    assert page.find('#native input[type=checkbox]').is_displayed()

    status = page.upload(files['photo'], 'Translated')
    assert 'cat.png' in status and 'resized to 64x64 and back' in status
    want = read_png(str(files['tmp'] / 'ckpt' / 'cat.png'))
    assert max_diff(page.image('translation'), want) <= 1
    want_heat = read_png(str(files['tmp'] / 'ckpt' / 'cat_cam.png'))
    assert max_diff(page.image('heatmap'), want_heat) <= 1
    assert max_diff(page.image('source'), read_png(files['photo'])) == 0
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert fetched and all(u.startswith(url.rstrip('/')) or u.startswith(('data:', 'blob:'))
                           for u in fetched), [u for u in fetched if '127.0.0.1' not in u]
    shot = str(files['tmp'] / 'demo_screenshot.png')
    assert browser.save_screenshot(shot)
    if os.environ.get('NICEGAN_UPDATE_SCREENSHOT') == '1':
        shutil.copyfile(shot, osp.join(project_root, 'docs', 'demo_screenshot.png'))

    # a file that is not an image: the message in the page, no images
    status = page.upload(files['text'], 'is not an image')
    assert 'notes.txt is not an image this demo can read' in status
    assert 'Upload a photo' in status
    assert not page.images('translation') and not page.images('heatmap')
    # ... and the server goes on: a greyscale photo is converted, translated and said so
    status = page.upload(files['grey'], 'Translated')
    assert 'greyscale image: converted to RGB' in status
    assert page.image('translation').shape == read_png(files['grey']).shape


def wait_for_server(proc: subprocess.Popen, url: str, log: str, timeout: float = 180) -> None:
    """Wait until tools/demo.py (``proc``) says it runs at ``url`` and answers there;
    fail with its log if it exits or never does."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f'tools/demo.py exited with {proc.returncode}:\n{open(log).read()}')
        if f'demo running at {url}' in open(log).read():  # printed once it listens
            with opener.open(url, timeout=WAIT):
                return
        time.sleep(0.5)
    pytest.fail(f'tools/demo.py did not answer at {url} in {timeout} s:\n{open(log).read()}')


def test_onnx_demo_in_the_browser(files, browser):
    """tools/demo.py --model x.onnx, started as a command (onnxruntime runs the file)."""
    url = files['onnx_url']
    wait_for_server(files['onnx_demo'], url, files['onnx_log'])
    printed = open(files['onnx_log']).read()
    assert f'demo running at {url}' in printed and 'onnxruntime translator' in printed
    page = Page(browser, url)
    radios = browser.find_elements('css selector', '#direction input[type=radio]')
    assert len(radios) == 1 and radios[0].is_selected()  # the file's one direction

    status = page.upload(files['photo'], 'Translated')
    assert 'with onnxruntime' in status
    finish(files['onnx_run'])
    want = read_png(str(files['tmp'] / 'onnx' / 'cat.png'))
    assert max_diff(page.image('translation'), want) <= 1
    want_heat = read_png(str(files['tmp'] / 'onnx' / 'cat_cam.png'))
    assert max_diff(page.image('heatmap'), want_heat) <= 1

    # native size (exported with --dynamic-size): the translation keeps the photo's size
    first = page.find('#translation img').get_attribute('src')
    page.find('#native input[type=checkbox]').click()
    page.wait.until(lambda d: 'at its own size' in page.status())
    page.wait.until(lambda d: page.find('#translation img').get_attribute('src') != first)
    assert page.image('translation').shape == read_png(files['photo']).shape
