"""TensorBoard's own readers on what viz's tensorboard:// backend writes.

The run comes from `cargo run --example tensorboard_fixture` (scripts/test.sh builds
it first): 100 scalars, a histogram, two texts, an image, a tensor and raw bytes, with
known values and wall times.
"""

import binascii
import os
import pathlib
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "target" / "debug" / "examples" / "tensorboard_fixture"
BASE = 1_700_000_000.0


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    if not FIXTURE.exists():
        pytest.fail(f"{FIXTURE} is missing: run `cargo build --examples` (scripts/test.sh does)")
    run = tmp_path_factory.mktemp("run")
    subprocess.run([str(FIXTURE), str(run)], check=True)
    return run


@pytest.fixture(scope="module")
def acc(logdir):
    # size_guidance 0: keep every event, so nothing is sampled away.
    ea = EventAccumulator(
        str(logdir),
        size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0},
    )
    ea.Reload()
    return ea


def test_tags_by_kind(acc):
    tags = acc.Tags()
    assert tags["scalars"] == ["fix/loss"]
    assert tags["histograms"] == ["fix/hist"]
    assert tags["images"] == ["fix/image"]
    assert sorted(tags["tensors"]) == ["_hparams_/session_end_info", "_hparams_/session_start_info", "fix/raw",
                                       "fix/tensor", "fix/text"]


def test_scalars_keep_steps_values_and_wall_times(acc):
    got = [(e.step, e.value, e.wall_time) for e in acc.Scalars("fix/loss")]
    assert got == [(s, s * 0.5, BASE + s) for s in range(100)]


def test_histogram(acc):
    [h] = acc.Histograms("fix/hist")
    assert (h.step, h.wall_time) == (5, BASE + 5)
    assert list(h.histogram_value.bucket_limit) == [1.0, 2.0, 3.0]
    assert list(h.histogram_value.bucket) == [1.0, 2.0, 3.0]
    assert h.histogram_value.num == 6.0


def test_image(acc):
    [img] = acc.Images("fix/image")
    assert (img.step, img.wall_time, img.width, img.height) == (9, BASE + 9, 2, 1)
    png = img.encoded_image_string
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # Decode with Python's own zlib and CRC-32: every chunk checks out, pixels exact.
    at, idat = 8, b""
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, data = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length : at + 12 + length])
        assert binascii.crc32(kind + data) == crc, kind
        if kind == b"IDAT":
            idat += data
        at += 12 + length
    assert zlib.decompress(idat) == bytes([0, 255, 0, 0, 255, 0, 0, 255, 255])


def test_text_uses_the_text_plugin(acc):
    texts = acc.Tensors("fix/text")
    assert [(t.step, t.wall_time) for t in texts] == [(7, BASE + 7), (8, BASE + 8)]
    assert [tensor_util.make_ndarray(t.tensor_proto).item() for t in texts] == [
        b"hello tensorboard",
        b"second note",
    ]
    assert acc.SummaryMetadata("fix/text").plugin_data.plugin_name == "text"


def test_tensor(acc):
    [t] = acc.Tensors("fix/tensor")
    assert (t.step, t.wall_time) == (11, BASE + 11)
    np.testing.assert_array_equal(
        tensor_util.make_ndarray(t.tensor_proto),
        np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32),
    )


def test_raw_bytes(acc):
    [r] = acc.Tensors("fix/raw")
    assert tensor_util.make_ndarray(r.tensor_proto).item() == b"a,b\n1,2\n"
    meta = acc.SummaryMetadata("fix/raw").plugin_data
    assert (meta.plugin_name, meta.content) == ("viz_raw", b"text/csv")


def test_hyperparameters_reach_the_hparams_plugin(acc):
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    content = acc.PluginTagToContent(metadata.PLUGIN_NAME)
    start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    hparams = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}
    assert hparams == {"lr": 0.01, "optimizer": "adam", "pretrained": True, "layers": "[64,128]"}
    end = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG])
    assert end.status == 1  # STATUS_SUCCESS: the run ended normally
    assert isinstance(start, plugin_data_pb2.SessionStartInfo)


def test_the_hparams_dashboard_shows_them_next_to_the_metrics(logdir):
    # TensorBoard's own HParams backend (pinned TensorBoard), as its dashboard queries it.
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import backend_context

    mux = plugin_event_multiplexer.EventMultiplexer()
    mux.AddRunsFromDirectory(str(logdir))
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, str(logdir))
    hparams = backend_context.Context(base_plugin.TBContext(logdir=str(logdir), multiplexer=mux,
                                                            data_provider=provider))
    request = context.RequestContext()
    experiment = hparams.experiment_from_metadata(
        request, "", include_metrics=True,
        hparams_run_to_tag_to_content=hparams.hparams_metadata(request, ""), data_provider_hparams=None)
    assert sorted(h.name for h in experiment.hparam_infos) == ["layers", "lr", "optimizer", "pretrained"]
    assert [m.name.tag for m in experiment.metric_infos] == ["fix/loss"]


def test_tensorboard_inspect(logdir):
    tb = pathlib.Path(sys.executable).with_name("tensorboard")
    out = subprocess.run(
        [str(tb), "--inspect", "--logdir", str(logdir)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    text = out.stdout + out.stderr
    assert "fix/loss" in text and "fix/hist" in text and "fix/image" in text, text
    assert "Found event files in:" in text, text
