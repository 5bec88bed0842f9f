"""Reads a TensorBoard log directory with TensorBoard's own loaders and prints it as JSON.

Used by the tests of the worker's event writer: the files must be readable by the real
`tensorboard` package (its TFRecord reader checks both masked CRC-32Cs of every record).

Output: {"files": {name: [raw events as {step, wallTime, kind}]},
         "scalars": {tag: [{step, wallTime, value}]},
         "tensors": {tag: {"plugin", "dataClass", "events": [{step, wallTime, dtype, dims, strings}]}}}
"""
import json
import os
import sys

from tensorboard.backend.event_processing import event_accumulator, event_file_loader


def raw_events(path):
    out = []
    for ev in event_file_loader.EventFileLoader(path).Load():
        kind = ev.WhichOneof("what")
        out.append({"step": ev.step, "wallTime": ev.wall_time, "kind": kind,
                    "fileVersion": ev.file_version if kind == "file_version" else None})
    return out


def main(logdir):
    files = {name: raw_events(os.path.join(logdir, name)) for name in sorted(os.listdir(logdir))}
    # Size guidance 0 keeps every event (the default samples scalars down to 10,000 and tensors to 10).
    acc = event_accumulator.EventAccumulator(logdir, size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {tag: [{"step": e.step, "wallTime": e.wall_time, "value": e.value} for e in acc.Scalars(tag)] for tag in tags["scalars"]}
    tensors = {}
    for tag in tags["tensors"]:
        meta = acc.SummaryMetadata(tag)
        tensors[tag] = {
            "plugin": meta.plugin_data.plugin_name,
            "dataClass": meta.data_class,
            "events": [{"step": e.step, "wallTime": e.wall_time, "dtype": e.tensor_proto.dtype,
                        "dims": len(e.tensor_proto.tensor_shape.dim),
                        "strings": [s.decode("utf-8") for s in e.tensor_proto.string_val]} for e in acc.Tensors(tag)],
        }
    json.dump({"files": files, "scalars": scalars, "tensors": tensors}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
