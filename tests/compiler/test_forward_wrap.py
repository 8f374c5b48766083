"""The generated code's line wrapping reads brackets outside string literals only."""

from studio.compiler.forward import _enclosed, _split_top_level


def test_a_bracketed_argument_is_one_group_only_when_its_first_bracket_closes_at_its_end():
    assert _enclosed("[a, b]") and _enclosed("(a, (b))")
    assert not _enclosed("(a) + (b)") and not _enclosed("[a]x") and not _enclosed("a")
    # an escaped quote inside a string does not end the string, so its bracket is text
    assert _enclosed('["\\")", b]')
    assert not _enclosed('["\\")", b] + [c]')


def test_arguments_split_at_top_level_commas_only():
    text = 'a, f(b, c), "x,\\"y", [d, e]'
    assert _split_top_level(text) == ["a", "f(b, c)", '"x,\\"y"', "[d, e]"]
    assert _split_top_level("") == []
