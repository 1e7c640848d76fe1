import torch

from cmx_bench.nets.cxr_densenet import ap_network, rf_network, transfer_ap_to_rf


def test_ap_to_rf_transfer_copies_exactly_the_named_tensors():
    torch.manual_seed(1)
    ap = ap_network()
    torch.manual_seed(2)
    rf = rf_network()
    before = {name: tensor.clone() for name, tensor in rf.state_dict().items()}
    copied = set(transfer_ap_to_rf(ap, rf))
    after, source = rf.state_dict(), ap.state_dict()
    expected = {n for n in after if n.startswith(("features.", "shared.")) or n.startswith("heads.pneumonia.")}
    assert copied == expected
    for name in after:
        if name in expected:
            assert torch.equal(after[name], source[name]), name
        else:
            assert torch.equal(after[name], before[name]), name  # new heads (covid, normal) untouched
    assert {n for n in after if n not in expected} == {"heads.covid.weight", "heads.covid.bias",
                                                       "heads.normal.weight", "heads.normal.bias"}


def test_rf_outputs_three_logits_in_class_order():
    rf = rf_network().eval()
    with torch.no_grad():
        out = rf(torch.zeros(2, 3, 64, 64))
    assert out.shape == (2, 3) and rf.labels == ("covid", "normal", "pneumonia")
    assert ap_network().eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 8)
