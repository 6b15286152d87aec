"""Write a tiny random-weight llama-architecture GGUF (~0.3 MB) for offline integration tests.

Copy of `../shared/testing/make_tiny_gguf.py` (beside the checkout; same tensors, same seed),
tidied for the linters.
It runs inside the llama.cpp test venv, which has `gguf` and `numpy`; the project's own venv
has neither, hence the mypy opt-out below. Output is gibberish but deterministic at
temperature 0. Usage: python make_tiny_gguf.py out.gguf
"""
# mypy: ignore-errors

import sys

import gguf
import numpy as np

WORDS = (
    "hello world the a quick brown fox jumps over lazy dog test stream token chat "
    "model reply yes no ok done one two three four five"
)


def main(out: str) -> None:
    rng = np.random.default_rng(0)
    n_embd, n_ff, n_layer, n_head, n_ctx = 64, 128, 2, 4, 2048

    # SentencePiece-style vocab: specials, 256 byte-fallback tokens, then word pieces
    tokens = [b"<unk>", b"<s>", b"</s>"]
    scores = [0.0, 0.0, 0.0]
    types = [2, 3, 3]  # UNKNOWN, CONTROL, CONTROL
    for b in range(256):
        tokens.append(f"<0x{b:02X}>".encode())
        scores.append(0.0)
        types.append(6)  # BYTE
    pieces = ["\u2581" + w for w in WORDS.split()] + list("abcdefghijklmnopqrstuvwxyz.,!?")
    for i, piece in enumerate([*pieces, "\u2581"]):
        tokens.append(piece.encode())
        scores.append(-float(i))
        types.append(1)  # NORMAL
    n_vocab = len(tokens)

    w = gguf.GGUFWriter(out, "llama")
    w.add_name("tiny-random-llama")
    w.add_context_length(n_ctx)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_vocab_size(n_vocab)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_chat_template(
        "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
    )

    def t(*shape, scale=0.02):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w.add_tensor("token_embd.weight", t(n_vocab, n_embd, scale=1.0))
    for i in range(n_layer):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", np.ones(n_embd, np.float32))
        for n in ("attn_q", "attn_k", "attn_v", "attn_output"):
            w.add_tensor(p + n + ".weight", t(n_embd, n_embd))
        w.add_tensor(p + "ffn_norm.weight", np.ones(n_embd, np.float32))
        w.add_tensor(p + "ffn_gate.weight", t(n_ff, n_embd))
        w.add_tensor(p + "ffn_up.weight", t(n_ff, n_embd))
        w.add_tensor(p + "ffn_down.weight", t(n_embd, n_ff))
    w.add_tensor("output_norm.weight", np.ones(n_embd, np.float32))
    out_w = t(n_vocab, n_embd, scale=1.0)
    out_w[3:259] *= 0.0  # never pick byte tokens -> output stays valid UTF-8 words/letters
    w.add_tensor("output.weight", out_w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tiny.gguf")
