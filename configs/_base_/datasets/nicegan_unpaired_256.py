# Unpaired data as the official code feeds it, built from MMagic's components.
# Official train transform (per domain, independent randomness):
#   RandomHorizontalFlip -> Resize((img+30, img+30)) PIL bilinear -> RandomCrop(img).
# Test: Resize((img, img)). The dataset config appends KeyMapper + PackInputs
# (configs/_base_/config_helpers.py: unpaired_pipelines, unpaired_domains).
dataset_type = 'NICEGANUnpairedImageDataset'  # MMagic's, with a start-up data check
img_size = 256
load_size = img_size + 30
train_pipeline, test_pipeline = __import__('runpy').run_path(
    '{{ fileDirname }}/../config_helpers.py')['unpaired_pipelines'](img_size, load_size)
train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=None, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=None, test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
