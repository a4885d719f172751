"""Guards for the machine setup that nothing else would report.

Without libharfbuzz-subset0 WeasyPrint still works but embeds whole fonts: a Chinese page
takes ~28 s instead of ~0.5 s, with no error. Without Noto CJK, Chinese text renders as
boxes. scripts/setup.sh installs both (fonts-noto-cjk, libharfbuzz-subset0).
"""

import shutil
import subprocess
import warnings


def test_weasyprint_can_subset_fonts_with_harfbuzz():
    with warnings.catch_warnings():
        # weasyprint warns (DeprecationWarning) at import when the library is missing;
        # the assertion below says it more plainly.
        warnings.simplefilter("ignore", DeprecationWarning)
        from weasyprint.text.ffi import harfbuzz_subset

    assert harfbuzz_subset, (
        "WeasyPrint cannot load libharfbuzz-subset: sudo apt-get install libharfbuzz-subset0"
    )


def test_fontconfig_finds_noto_cjk_for_chinese():
    assert shutil.which("fc-list"), "fc-list missing: sudo apt-get install fontconfig"
    out = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    families = {name.strip() for line in out.splitlines() for name in line.split(",")}
    assert "Noto Sans CJK SC" in families, (
        f"no Noto Sans CJK SC among Chinese fonts {sorted(families)}: "
        "sudo apt-get install fonts-noto-cjk"
    )
    assert "Noto Serif CJK SC" in families, "sudo apt-get install fonts-noto-cjk"
