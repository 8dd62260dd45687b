"""What each precision choice does to the scores and to one training step (a check, not a test).

Run from the repository root, on a GPU machine for the bf16 rows (on the CPU every
``auto`` resolves to float32 and the comparisons are exact):

    python packages/llm-policy/benchmarks/precision_check.py

For each model kind (random ``small`` tiny GPT-2 and T5) it prints: the fast scoring
strategies against the naive float32 reference; for full / frozen / LoRA fine-tuning
with ``dtype: auto`` and ``autocast: auto``, the resolved precision, the dtypes of
base / trainable / head weights, the log-prob and value differences from float32,
and how many trainable weights one AdamW step at lr 1e-6 changes (bf16-stored
weights lose such steps); the same step with trained weights stored in bf16; and a
policy saved on the device and reloaded on the CPU. The output of one H200 run is in
docs/measurements/h200-precision-check.log.
"""

import logging
import sys
import tempfile
from pathlib import Path

import torch
import transformers

from glam_policy import LLMPolicy, make_tiny_model_dir


def _test_observations() -> list:
    """The example observations of the package's policy tests."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_policy import OBSERVATIONS

    return list(OBSERVATIONS)


OBSERVATIONS = _test_observations()

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
logging.getLogger("glam_policy.policy").setLevel(logging.INFO)
DEVICE_NAME = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
BF16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
print(
    "torch",
    torch.__version__,
    "transformers",
    transformers.__version__,
    DEVICE_NAME,
    "native bf16",
    BF16,
    flush=True,
)
root = Path(tempfile.mkdtemp())
F = dict(value_hidden_sizes=[16])
for kind in ("decoder", "encoder-decoder"):
    d = make_tiny_model_dir(root / kind, kind=kind, size="small", seed=0)
    base = {"model": str(d), **F}
    ref = LLMPolicy.from_config({**base, "dtype": "float32", "autocast": "off", "scoring": "naive"})
    with torch.no_grad():
        r, rv = ref(OBSERVATIONS)
    fin = torch.isfinite(r)
    for strat in ("packed", "expanded"):
        p = LLMPolicy.from_config({**base, "dtype": "float32", "autocast": "off", "scoring": strat})
        with torch.no_grad():
            logits, _ = p(OBSERVATIONS)
        print(
            f"{kind} fp32 {strat} vs naive max {(logits[fin] - r[fin]).abs().max():.2e}", flush=True
        )
    for ft in ("full", "frozen", "lora"):
        p = LLMPolicy.from_config({**base, "finetuning": ft})
        base_dt = {q.dtype for n, q in p.lm.named_parameters() if "lora_" not in n}
        train_dt = {q.dtype for q in p.lm_parameters()}
        head_dt = {q.dtype for m in p.head_modules() for q in m.parameters()}
        print(
            f"{kind} {ft}: device {p.device} {p.precision.describe()} "
            f"base {base_dt} trainable {train_dt} heads {head_dt}"
        )
        for strat in ("packed", "expanded", "naive"):
            p.scorer.strategy = strat
            with torch.no_grad():
                logits, v = p(OBSERVATIONS)
            assert logits.dtype == v.dtype == torch.float32 and torch.isfinite(logits[fin]).all()
            diff = (logits[fin] - r[fin]).abs()
            print(
                f"   {strat}: logp diff vs fp32 max {diff.max():.2e} mean {diff.mean():.2e} "
                f"rel {(diff / r[fin].abs()).max():.1e} |logp| {r[fin].abs().mean():.1f}; "
                f"value diff {(v - rv).abs().max():.1e}"
            )
        p.scorer.strategy = "packed"
        p.train()
        opt = torch.optim.AdamW([q for q in p.parameters() if q.requires_grad], lr=1e-6)
        before = {n: q.detach().clone() for n, q in p.lm.named_parameters() if q.requires_grad}
        logits, v = p(OBSERVATIONS)
        (logits[fin].sum() + v.sum()).backward()
        grads = [q.grad for q in p.parameters() if q.requires_grad]
        assert all(
            g is not None and g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads
        )
        opt.step()
        moved = sum(int((before[n] != q).sum()) for n, q in p.lm.named_parameters() if n in before)
        total = sum(t.numel() for t in before.values())
        print(f"   one AdamW lr-1e-6 step changed {moved}/{total} trainable LM weights", flush=True)
    p = LLMPolicy.from_config({**base, "dtype": "bf16"})
    opt = torch.optim.AdamW(p.lm_parameters(), lr=1e-6)
    before = {n: q.detach().clone() for n, q in p.lm.named_parameters()}
    p.train()
    logits, v = p(OBSERVATIONS)
    (logits[fin].sum() + v.sum()).backward()
    opt.step()
    moved = sum(int((before[n] != q).sum()) for n, q in p.lm.named_parameters())
    total = sum(t.numel() for t in before.values())
    print(
        f"{kind} full with explicit bf16 storage: one AdamW lr-1e-6 step changed "
        f"{moved}/{total} LM weights"
    )
    frozen = LLMPolicy.from_config({**base, "finetuning": "frozen"})
    with torch.no_grad():
        g, _ = frozen(OBSERVATIONS)
    frozen.save_pretrained(root / f"{kind}-saved")
    cpu = LLMPolicy.from_pretrained(root / f"{kind}-saved", device="cpu")
    with torch.no_grad():
        c, _ = cpu(OBSERVATIONS)
    print(
        f"{kind} saved on GPU (bf16 frozen) reloaded on cpu: {cpu.device} "
        f"{cpu.precision.describe()} diff {(c[fin.cpu()] - g[fin].cpu()).abs().max():.2e}",
        flush=True,
    )
device_type = "cuda" if torch.cuda.is_available() else "cpu"
with torch.autocast(device_type, dtype=torch.bfloat16):  # a caller's autocast: heads still fp32
    _, v2 = frozen(OBSERVATIONS)
print("values under caller autocast", v2.dtype)
print("CHECK OK")
