import pytest
import torch

from cmx_bench.errors import UnknownNameError
from cmx_bench.nets.registry import STUDENTS, all_cards, build_model, get_card


def test_cards_cover_students_and_teacher():
    cards = all_cards()
    for name in (*STUDENTS, "squeezenet1_0", "densenet121"):
        assert cards[name].classes == ("covid", "normal", "pneumonia")
        assert cards[name].input_shape == (1, 3, 224, 224)


@pytest.mark.parametrize("name", STUDENTS)
def test_student_builds_with_three_class_head(name):
    model = build_model(get_card(name))
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 224, 224)).shape == (1, 3)


def test_unknown_model_names_the_choices():
    with pytest.raises(UnknownNameError, match="unknown model 'resnet9000'.*mobilenet_v2"):
        get_card("resnet9000")
