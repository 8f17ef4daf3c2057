"""The step is ready for kernel fusion: TorchDynamo traces the discriminator and
generator losses (every network forward of an iteration, the fused ILN/AdaILN autograd
functions and the spectral-norm power iterations included) and inference into one graph
each, with no graph break, so ``torch.compile`` can take them whole (issue 9's next step
towards >= 8x on a GPU). Light and full generators."""
import pytest
import torch


def _graphs_and_breaks(fn, *args):
    torch._dynamo.reset()
    out = torch._dynamo.explain(fn)(*args)
    reasons = [f'{r.reason.splitlines()[0]} at {r.user_stack[-1] if r.user_stack else "?"}'
               for r in out.break_reasons]
    return out.graph_count, reasons


@pytest.mark.parametrize('light', [True, False], ids=['light', 'full'])
def test_losses_and_translation_trace_as_single_graphs(light, build_tiny_model):
    model = build_tiny_model(light=light)
    torch.manual_seed(0)
    real = {d: torch.rand(2, 3, 64, 64) * 2 - 1 for d in model.domains}
    for name in ('discriminator_loss', 'generator_loss'):
        graphs, breaks = _graphs_and_breaks(getattr(model, name), real)
        assert (graphs, breaks) == (1, []), name
    model.eval()
    graphs, breaks = _graphs_and_breaks(
        lambda x: model.translation(x, target_domain='B'), real['A'])
    assert (graphs, breaks) == (1, []), 'translation'


def test_a_graph_break_is_seen():
    """The check fails where the step leaves the graph (a host read of a tensor)."""
    def step(x):
        y = x.sum()
        if y.item() > 0:
            return y * 2
        return y

    graphs, breaks = _graphs_and_breaks(step, torch.ones(3))
    assert graphs == 2 and len(breaks) == 1
