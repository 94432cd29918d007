"""Writes the fuzz targets' seed corpora into tests/fuzz/seeds/<target>/: tiny valid
inputs (4 rows x 3 dims) in every variant each reader knows, made by other tools (numpy,
pyarrow, the csv/json modules), so libFuzzer starts from structure and its inputs stay
small and fast. Run from the repo root:  python3 tests/fuzz/make_seeds.py
Needs numpy and pyarrow (pip). The files are committed; CI does not run this.
The manifest seeds come from the CLI (see the README beside them)."""
import csv, io, json, os, struct, zipfile
import numpy as np
import pyarrow as pa, pyarrow.parquet as pq

here = os.path.dirname(os.path.abspath(__file__))
x = np.array([[0.0, 0.25, -1.5], [1.0, 0.5, 2.0], [0.125, -0.75, 3.0], [4.0, 0.0, -0.5]], np.float32)
ids = ["a", "b", "c", "d"]
digit = [3, 1, 4, 1]


def seed(target, name, data):
    d = os.path.join(here, "seeds", target)
    os.makedirs(d, exist_ok=True)
    mode = "w" if isinstance(data, str) else "wb"
    with open(os.path.join(d, name), mode, newline="" if mode == "w" else None) as f:
        f.write(data)


def npy(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


seed("read_npy", "f32.npy", npy(x))
seed("read_npy", "f16.npy", npy(x.astype(np.float16)))
seed("read_npy", "f64_be.npy", npy(x.astype(">f8")))
seed("read_npy", "nan.npy", npy(np.where(x > 3.5, np.nan, x).astype(np.float32)))
for name, kind in [("stored.npz", zipfile.ZIP_STORED), ("deflated.npz", zipfile.ZIP_DEFLATED)]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", kind) as z:
        z.writestr("embeddings.npy", npy(x))
    seed("read_npz", name, buf.getvalue())


def safetensors(tensors):
    header, data = {}, b""
    for name, (dtype, arr) in tensors.items():
        raw = arr.tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


seed("read_safetensors", "f32.safetensors", safetensors({"embeddings": ("F32", x)}))
seed("read_safetensors", "f16.safetensors", safetensors({"embeddings": ("F16", x.astype(np.float16))}))
seed("read_safetensors", "two.safetensors", safetensors({"a": ("F64", x.astype(np.float64)), "b": ("F32", x)}))


def delimited(rows, delimiter):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerows(rows)
    return buf.getvalue()


columns = [["id", "digit", "f0", "f1", "f2"]] + [[i, d, *map(repr, map(float, r))] for i, d, r in zip(ids, digit, x)]
as_json = [["id", "embedding", "digit"]] + [[i, json.dumps(list(map(float, r))), d] for i, d, r in zip(ids, digit, x)]
vectors = [list(map(repr, map(float, r))) for r in x]
seed("read_csv", "columns.csv", delimited(columns, ","))
seed("read_csv", "json.csv", delimited(as_json, ","))
seed("read_tsv", "projector.tsv", delimited(vectors, "\t"))
seed("read_tsv", "columns.tsv", delimited(columns, "\t"))
seed("read_jsonl", "rows.jsonl", "".join(
    json.dumps({"id": i, "embedding": list(map(float, r)), "digit": d}) + "\n" for i, d, r in zip(ids, digit, x)))
seed("read_jsonl", "later_fields.jsonl", '{"vector": [1, 2]}\n{"vector": [3, null], "note": "x"}\n')

fixed = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1), pa.float32()), 3)
table = pa.table({"id": ids, "digit": pa.array(digit, pa.int64()), "embedding": fixed})
for codec in ["snappy", "zstd", "lz4", "gzip", "none"]:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression=codec, row_group_size=2)
    seed("read_parquet", f"fixed_{codec}.parquet", buf.getvalue())
lists = pa.array([list(map(float, r)) for r in x], pa.list_(pa.float64()))
buf = io.BytesIO()
pq.write_table(pa.table({"vector": lists, "note": ["w", "x", "y", "z"]}), buf)
seed("read_parquet", "list.parquet", buf.getvalue())

# The sidecar target reads its first byte as the mode (tests/fuzz/fuzz_targets/sidecar.rs):
# bit 0 TSV, bit 1 the embeddings have ids, bit 2 row 1 was dropped, bit 3 join by id.
meta = [["id", "digit"]] + [[i, d] for i, d in zip(ids, digit)]
seed("sidecar", "rows.csv", "\x00" + delimited(meta, ","))
seed("sidecar", "rows_with_ids.tsv", "\x03" + delimited(meta, "\t"))
seed("sidecar", "by_id.tsv", "\x0b" + delimited([meta[0]] + meta[:0:-1], "\t"))
seed("sidecar", "by_id_dropped.tsv", "\x0f" + delimited([["key", "id"], [1, "a"], [3, "c"], [4, "d"]], "\t"))
seed("sidecar", "one_column.tsv", "\x01one\ntwo\nthree\nfour\n")

for i, link in enumerate([
    "#method=elfs&budget=2%25%2C+300&balance=site%3Da%3A2%2Cb%3A1&cost-per-label=0.25",
    "epochs=3&seed=4&clusters=10&head=mlp&learning-rate=0.1&folds=2&noise=0.05",
    "cluster-range=2-40&score=aum&beta=0.1&dedup=0.95&labeled-column=done",
    "curve=1%25%2C5%25%2C500&cost-column=price&coverage-delta=0.2&cluster-hits=2&storage=f16",
    "gain-threshold=0.5&labels-per-hour=120",
]):
    seed("settings_link", f"link{i}.txt", link)
print("seeds written to", os.path.join(here, "seeds"))
