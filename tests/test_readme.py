"""The README's usage example runs and prints what its comments say."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def shown(value):
    """What a reader sees: shapes as tuples on every backend (TF gives a TensorShape)."""
    return repr(tuple(value)) if type(value).__name__ == "TensorShape" else repr(value)


def test_readme_usage_example_is_true():
    text = README.read_text()
    block = re.search(r"## Use the package\s+```python\n(.*?)```", text, re.S).group(1)
    namespace, checked = {}, 0
    for line in block.splitlines():
        if line.startswith("# "):  # an expected output on its own line, for the line above
            expected = line[2:].strip()
            assert shown(last) == expected, f"{previous!r} gives {last!r}, README says {expected}"
            checked += 1
            continue
        code, _, comment = line.partition("  #")
        if not code.strip():
            continue
        if "=" in code.split("(")[0] or code.startswith(("import", "from")):
            exec(code, namespace)
            continue
        last, previous = eval(code, namespace), code
        if comment:
            # the comment starts with the value, e.g. "(8, 64, 48): 64 patches ..."
            value = comment.strip().split(":")[0].split(",  ")[0]
            value = re.match(r"(\(.*?\)|\[.*?\]|\d+)", value).group(1)
            assert shown(last) == value, f"{code.strip()!r} gives {last!r}, README says {value}"
            checked += 1
    assert checked >= 4


def test_readme_preset_table_matches_the_built_models():
    import vitcourse

    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| ([\d,]+)", README.read_text(), re.M)
    assert [name for name, _ in rows] == vitcourse.list_presets()
    for name, count in rows:
        assert vitcourse.build_model(name).count_params() == int(count.replace(",", "")), name
