"""The stand-ins are strict: exactly the dumped members, the dumped signatures, dumped names."""
import pytest

from tests.support.tensorrt import VERSIONS, emulate
from tests.support.tensorrt.dump import is_enum, load_dump


def test_an_8_6_only_call_fails_under_11_4():
    old, new = emulate("8.6.1").trt, emulate("11.4.0.106").trt
    assert callable(old.IExecutionContext.execute_async_v2)
    with pytest.raises(AttributeError, match="11.4.0.106 has no attribute "
                                             "IExecutionContext.execute_async_v2"):
        new.IExecutionContext.execute_async_v2
    with pytest.raises(AttributeError, match="BuilderFlag.FP16"):
        new.BuilderFlag.FP16
    with pytest.raises(AttributeError, match="IInt8EntropyCalibrator2"):
        new.IInt8EntropyCalibrator2


def test_a_newer_call_fails_under_8_6_on_instances_too(tmp_path):
    trt = emulate("8.6.1").trt
    config = trt.Builder(trt.Logger()).create_builder_config()
    with pytest.raises(AttributeError, match="IBuilderConfig.progress_monitor"):
        config.progress_monitor
    with pytest.raises(AttributeError, match="cannot set IBuilderConfig.max_num_tactics"):
        config.max_num_tactics = 3
    with pytest.raises(AttributeError, match="ExecutionContextAllocationStrategy"):
        trt.ExecutionContextAllocationStrategy


def test_calls_must_match_a_dumped_signature():
    trt = emulate("10.16.1.11").trt
    config = trt.Builder(trt.Logger()).create_builder_config()
    with pytest.raises(TypeError, match="set_flag.*incompatible arguments"):
        config.set_flag("FP16")
    with pytest.raises(TypeError, match="incompatible arguments"):
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE)
    with pytest.raises(TypeError, match="create_network"):
        trt.Builder(trt.Logger()).create_network(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)


def test_8_6_create_execution_context_takes_no_strategy():
    sig = load_dump("8.6.1")["classes"]["ICudaEngine"]["create_execution_context"]["sigs"]
    assert sig == ["create_execution_context(self: tensorrt_bindings.tensorrt.ICudaEngine) -> "
                   "tensorrt_bindings.tensorrt.IExecutionContext"]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_dumped_class_has_exactly_its_dumped_members(version):
    trt, dump = emulate(version).trt, load_dump(version)
    for name, members in dump["classes"].items():
        cls = getattr(trt, name)
        assert set(cls.__dict__["_fake_members"]) == set(members), name
        with pytest.raises(AttributeError):
            getattr(cls, "not_a_tensorrt_member")
        if is_enum(members):
            for member, entry in members.items():
                if entry["kind"] == "attr":
                    assert getattr(cls, member).name == member
    assert trt.__version__ == version


def test_python_subclasses_may_add_their_own_attributes():
    trt = emulate("11.4.0.106").trt

    class Recorder(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)
            self.messages = []

        def log(self, severity, msg):
            self.messages.append(msg)

    recorder = Recorder()
    recorder.log(trt.ILogger.WARNING, "hello")
    assert recorder.messages == ["hello"]
    with pytest.raises(AttributeError):
        trt.ILogger.not_a_member


def test_accesses_are_recorded_per_version():
    emulated = emulate("10.3.0")
    emulated.trt.BuilderFlag.FP16
    emulated.trt.Runtime
    assert {"BuilderFlag", "BuilderFlag.FP16", "Runtime"} <= set(emulated.touched())


def test_typed_parameters_and_setters_are_checked_as_pybind11_does():
    trt = emulate("10.3.0").trt
    with pytest.raises(TypeError, match="set_input_shape.*incompatible arguments"):
        trt.IExecutionContext.set_input_shape(object(), "x", "garbage")
    with pytest.raises(TypeError, match="set_input_shape.*incompatible arguments"):
        trt.IExecutionContext.set_input_shape(object(), "x", (1, "3"))
    config = trt.Builder(trt.Logger()).create_builder_config()
    with pytest.raises(TypeError, match="incompatible property value 'x'"):
        config.DLA_core = "x"
    with pytest.raises(TypeError, match="incompatible property value 42"):
        config.int8_calibrator = 42
    with pytest.raises(TypeError, match="DeviceType"):
        config.default_device_type = 1
    config.DLA_core = 1
    config.int8_calibrator = None
    assert config.DLA_core == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_device_memory_is_write_only_as_in_the_bindings(version):
    context_class = emulate(version).trt.IExecutionContext
    context = context_class.__new__(context_class)
    with pytest.raises(AttributeError, match="unreadable attribute"):
        context.device_memory


def test_tf32_is_on_by_default_as_in_tensorrt():
    trt = emulate("8.6.1").trt
    config = trt.Builder(trt.Logger()).create_builder_config()
    assert config.get_flag(trt.BuilderFlag.TF32)
