"""Which vector extensions the benchmark records, read from /proc/cpuinfo text."""
from fuse_trt.bench.machine import vector_extensions

ZEN4_FLAGS = ("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx fma avx2 avx512f "
              "avx512dq avx512_vnni avx512_bf16 avx512vl\n\nprocessor\t: 1\nflags\t\t: fpu\n")
NEOVERSE_FEATURES = "processor\t: 0\nFeatures\t: fp asimd aes asimddp sve i8mm\n"


def test_the_first_cpu_s_flags_are_read_in_a_fixed_order():
    assert vector_extensions(ZEN4_FLAGS) == ["avx2", "fma", "avx512f", "avx512_vnni",
                                             "avx512_bf16"]


def test_arm_features_are_read_too():
    assert vector_extensions(NEOVERSE_FEATURES) == ["asimd", "asimddp", "i8mm", "sve"]


def test_a_cpuinfo_without_flags_lists_none():
    assert vector_extensions("processor\t: 0\nmodel name\t: mystery\n") == []
    assert vector_extensions("") == []
