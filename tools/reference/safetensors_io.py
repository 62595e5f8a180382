#!/usr/bin/python3
# safetensors_io.py: a minimal, dependency-free reader/writer for the safetensors format
# (the `safetensors` package is not available here).
#
# Format: 8-byte little-endian u64 N, then N bytes of UTF-8 JSON
#   {name: {"dtype": ..., "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {str: str}}
# then the data buffer.  Offsets are relative to the start of the buffer; tensors are packed
# in the order written, little-endian, C-contiguous.  The header is padded with spaces so that
# 8 + N is a multiple of 8.
#
# bf16 encoding: the upper 16 bits of the float32 bit pattern after round-to-nearest-even,
# which is what torch's x.to(torch.bfloat16) does (checked in self_test()).
#
# Library module; `/usr/bin/python3 tools/reference/safetensors_io.py` runs a self test.
import json
import struct
import numpy as np

try:
    import torch
except ImportError:  # the reader/writer work on numpy arrays alone
    torch = None

# dtype name -> (numpy dtype, bytes per element); BF16 is stored as uint16 bit patterns.
_DTYPES = {
    "F64": (np.dtype("<f8"), 8),
    "F32": (np.dtype("<f4"), 4),
    "F16": (np.dtype("<f2"), 2),
    "BF16": (np.dtype("<u2"), 2),
    "I64": (np.dtype("<i8"), 8),
    "I32": (np.dtype("<i4"), 4),
    "I16": (np.dtype("<i2"), 2),
    "I8": (np.dtype("i1"), 1),
    "U8": (np.dtype("u1"), 1),
    "BOOL": (np.dtype("u1"), 1),
}


def f32_to_bf16_bits(a):
    """float32 array -> uint16 bf16 bit patterns, round-to-nearest-even (NaN kept quiet)."""
    a = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
    u = a.view(np.uint32).astype(np.uint64)
    lsb = (u >> 16) & 1
    r = ((u + 0x7FFF + lsb) >> 16).astype(np.uint16)
    nan = np.isnan(a)
    if nan.any():
        r[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
    return r


def bf16_bits_to_f32(b):
    b = np.asarray(b, dtype=np.uint16)
    return (b.astype(np.uint32) << 16).view(np.float32)


def _to_numpy(x, dtype):
    """Convert a torch tensor / numpy array to the little-endian numpy array stored for `dtype`."""
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dtype == torch.bfloat16:
            if dtype != "BF16":
                x = x.float()
            else:
                return x.contiguous().view(torch.int16).numpy().view(np.uint16)
        if x.dtype == torch.bool:
            x = x.to(torch.uint8)
        x = x.numpy()
    x = np.asarray(x)
    if dtype == "BF16":
        if x.dtype == np.uint16:
            return np.ascontiguousarray(x)
        return f32_to_bf16_bits(x.astype(np.float32))
    return np.ascontiguousarray(x.astype(_DTYPES[dtype][0]))


def _default_dtype(x):
    if torch is not None and isinstance(x, torch.Tensor):
        return {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
                torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32",
                torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}[x.dtype]
    x = np.asarray(x)
    return {np.dtype("float64"): "F64", np.dtype("float32"): "F32", np.dtype("float16"): "F16",
            np.dtype("int64"): "I64", np.dtype("int32"): "I32", np.dtype("int16"): "I16",
            np.dtype("int8"): "I8", np.dtype("uint8"): "U8", np.dtype("bool"): "BOOL"}[x.dtype]


def save_file(tensors, path, metadata=None, dtypes=None):
    """Write an ordered mapping name -> tensor/array.  `dtypes` optionally maps name -> dtype
    name (e.g. "BF16") to convert on write; otherwise the tensor's own dtype is used."""
    dtypes = dtypes or {}
    header = {}
    blobs = []
    off = 0
    for name, x in tensors.items():
        dt = dtypes.get(name) or _default_dtype(x)
        arr = _to_numpy(x, dt)
        raw = arr.tobytes()
        header[name] = {"dtype": dt, "shape": [int(s) for s in arr.shape],
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}, **header}
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((8 - (8 + len(hj)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n).decode("utf-8")), 8 + n


def load_file(path, as_torch=True, bf16_as="float32"):
    """Read every tensor.  Returns (dict name -> tensor, metadata dict).
    BF16 tensors come back as float32 (exact widening) unless bf16_as="bfloat16"
    (torch only) or "bits" (raw uint16)."""
    header, start = read_header(path)
    meta = header.pop("__metadata__", {}) or {}
    with open(path, "rb") as f:
        f.seek(start)
        buf = f.read()
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        npdt, _ = _DTYPES[info["dtype"]]
        arr = np.frombuffer(buf[b:e], dtype=npdt).reshape(info["shape"]).copy()
        if info["dtype"] == "BF16" and bf16_as != "bits":
            if bf16_as == "bfloat16" and as_torch:
                out[name] = torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
                continue
            arr = bf16_bits_to_f32(arr)
        if info["dtype"] == "BOOL":
            arr = arr.astype(bool)
        out[name] = torch.from_numpy(arr) if (as_torch and torch is not None) else arr
    return out, meta


def dtypes_of(path):
    header, _ = read_header(path)
    header.pop("__metadata__", None)
    return {k: v["dtype"] for k, v in header.items()}


def self_test():
    import os
    import tempfile
    assert torch is not None
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1000, generator=g) * 10
    # include exact ties to check round-to-nearest-even
    ties = torch.tensor([1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8, -1.0 - 2.0 ** -8, 3.0e38, 1e-40])
    x = torch.cat([x, ties])
    ours = f32_to_bf16_bits(x.numpy())
    ref = x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    assert (ours == ref).all(), "bf16 rounding mismatch"
    d = tempfile.mkdtemp()
    p = os.path.join(d, "t.safetensors")
    ts = {"a": torch.arange(6, dtype=torch.int64).view(2, 3), "b": x.view(-1, 5),
          "c": torch.randn(3, dtype=torch.float64), "m": torch.tensor([1, 0, 1], dtype=torch.uint8)}
    save_file(ts, p, metadata={"k": "v"}, dtypes={"b": "BF16"})
    back, meta = load_file(p)
    assert meta == {"k": "v"}
    assert torch.equal(back["a"], ts["a"]) and torch.equal(back["c"], ts["c"])
    assert torch.equal(back["b"], x.view(-1, 5).to(torch.bfloat16).float())
    with open(p, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
    assert (8 + n) % 8 == 0
    print("safetensors_io self test OK")


if __name__ == "__main__":
    self_test()
