"""Accuracy of the pre-review on a generated set (bench/ocr_generate.py): per field, how often the value
read is right (precision) and how often the printed value is found (recall); per field, what the
comparison reports against the truth, above all the false-match rate (a mismatch reported as a match,
which could approve the wrong person: it must be 0); and the seconds one page takes.

Runs the same code as the job (mtb.prereview: OCR engine, extraction, seal, comparison), on the
Beijing reference catalog, with the OCR extra installed.

    python bench/ocr_accuracy.py --set var/bench/ocr --json var/bench/ocr-accuracy.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from PIL import Image

from mtb.catalog.document import MaterialKind
from mtb.catalog.loader import read_catalog_files
from mtb.identity import idnumber
from mtb.prereview.compare import Applicant, Context, compare
from mtb.prereview.extract import extract, normalise
from mtb.prereview.ocr import load_engine
from mtb.prereview.seal import seal_state
from mtb.prereview.service import stored_fields

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-data-key-for-hashing-id-numbers-0001"
FIELDS = [
    "name",
    "id_number",
    "sex",
    "birth_date",
    "diagnosis",
    "hospital",
    "date",
    "physician_title",
    "seal",
    "valid_until",
]


def _kind(document: str) -> MaterialKind:
    """The material kind as the job sees it; certificates checked for their seal (as Hubei requires)."""
    return MaterialKind(
        kind=document,
        name=document,
        requirement="bench",
        prereview=document,  # type: ignore[arg-type]
        requires_seal=document == "diagnosis_certificate",
    )


def _read_value(document: str, values: dict[str, str], field: str) -> str | None:
    if field == "id_number":
        return values.get("id_number") if values.get("id_number_state") in ("valid", "masked") else None
    return values.get(field)


def run(set_dir: Path, *, threads: int) -> dict[str, Any]:
    samples = json.loads((set_dir / "truth.json").read_text())
    doc = next(
        p.document for p in read_catalog_files(sorted((ROOT / "data" / "catalog").glob("110000-*.yaml")))
    )
    titles = {t.code: t.name for t in doc.physician_titles}
    engine = load_engine(threads)
    if not engine.available:
        raise SystemExit("the OCR extra is not installed: pip install -e '.[ocr]'")
    extraction: dict[str, Counter[str]] = defaultdict(Counter)
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    seconds: list[float] = []
    blurred = Counter[str]()
    false_matches: list[str] = []
    for s in samples:
        with Image.open(set_dir / s["file"]) as img:
            page = img.convert("RGB")
        start = time.perf_counter()
        lines = engine.read(page)
        found = extract(lines, s["document"], titles=titles)
        values = dict(found.values)
        if s["document"] == "diagnosis_certificate":
            values["seal"] = seal_state(page)
        seconds.append(time.perf_counter() - start)
        if s["quality"] == "blurred":
            blurred["unreadable" if not found.readable else "readable"] += 1
        for field, printed in s["printed"].items():
            got = _read_value(s["document"], values, field)
            want = normalise(printed) if field in ("hospital", "diagnosis") else printed
            extraction[field]["printed"] += 1
            if got is not None:
                extraction[field]["read"] += 1
                extraction[field]["right" if got == want else "wrong"] += 1
        a = s["applicant"]
        hospital = next(
            (h for h in doc.hospitals if h.name == s["application"].get("hospital_name")), doc.hospitals[0]
        )
        disease = doc.disease(s["application"].get("disease_code", "BJ-TUMOR-CHEMO")) or doc.diseases[0]
        ctx = Context(
            applicant=Applicant(
                name=a["name"],
                id_number_hash=idnumber.lookup_hash(a["id_number"], data_key=KEY),
                id_number_masked=idnumber.mask(a["id_number"]),
                sex=a["sex"],
                birth_date=date.fromisoformat(a["birth_date"]),
            ),
            doc=doc,
            disease=disease,
            hospital_code=hospital.code,
            kind=_kind(s["document"]),
            declared={},
            today=date.fromisoformat(s["today"]),
        )
        for f in compare(stored_fields(values, data_key=KEY), readable=found.readable, ctx=ctx):
            truth = s["expected"].get(f.field)
            if truth is None:
                continue
            outcomes[f.field][f"{truth}->{f.outcome}"] += 1
            if truth == "mismatch" and f.outcome == "match":
                false_matches.append(f"{s['file']}:{f.field}")
    return {
        "images": len(samples),
        "extraction": {k: dict(v) for k, v in extraction.items()},
        "outcomes": {k: dict(v) for k, v in outcomes.items()},
        "false_matches": false_matches,
        "seconds": seconds,
        "blurred": dict(blurred),
        "engine": engine.name,
        "threads": threads,
    }


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f} %" if d else "—"


def table(result: dict[str, Any]) -> str:
    out = [
        f"{result['images']} images, engine {result['engine']}, {result['threads']} CPU thread(s)",
        "",
        "| field | printed | read | precision | recall | truth match → match | truth mismatch → mismatch | "
        "→ unreadable | false match |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    totals = Counter[str]()
    for field in FIELDS:
        e, o = result["extraction"].get(field, {}), result["outcomes"].get(field, {})
        if not e and not o:
            continue
        right, read, printed = e.get("right", 0), e.get("read", 0), e.get("printed", 0)
        mm, mx = o.get("match->match", 0), o.get("mismatch->mismatch", 0)
        t_match = sum(v for k, v in o.items() if k.startswith("match->"))
        t_mismatch = sum(v for k, v in o.items() if k.startswith("mismatch->"))
        unreadable = sum(v for k, v in o.items() if k.endswith("->unreadable"))
        false = o.get("mismatch->match", 0)
        totals.update({"mismatch": t_mismatch, "false": false})
        out.append(
            f"| {field} | {printed} | {read} | {_pct(right, read)} | {_pct(right, printed)} | "
            f"{mm}/{t_match} | {mx}/{t_mismatch} | {unreadable} | {false}/{t_mismatch} |"
        )
    secs = sorted(result["seconds"])
    p95 = secs[min(len(secs) - 1, int(0.95 * len(secs)))]
    out += [
        "",
        f"False-match rate: {totals['false']}/{totals['mismatch']} mismatching fields reported as a match"
        + (f" ({', '.join(result['false_matches'])})" if result["false_matches"] else "")
        + ".",
        f"Heavily blurred photos flagged unreadable: {result['blurred'].get('unreadable', 0)}/"
        f"{sum(result['blurred'].values())}.",
        f"Seconds per page: mean {statistics.mean(secs):.2f}, median {statistics.median(secs):.2f}, "
        f"p95 {p95:.2f}.",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", type=Path, default=Path("var/bench/ocr"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(args.set, threads=args.threads)
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print(table(result))


if __name__ == "__main__":
    main()
