"""Writes seeds/gguf/tiny.gguf: a llama GGUF of one layer, 8 dims and a 262-token
byte-level BPE, random weights, written by llama.cpp's own writer (PyPI gguf==0.17.1).
It seeds the GGUF fuzz target, and labelplan-lm's tests load it: every key and tensor
the model reader needs, in 16 KB.
Run from the repo root:  python3 tests/fuzz/make_tiny_gguf.py  (needs numpy, gguf)."""
import os
import numpy as np
import gguf

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "gguf")
rng = np.random.default_rng(7)
DIM, FF, HEADS, KV_HEADS = 8, 16, 2, 1


def byte_pieces():
    """GPT-2's byte-to-character map: every byte a printable character."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = [], 0
    for b in range(256):
        if b in keep:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


tokens = byte_pieces() + ["he", "\u0120w", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "ll"]
types = [1] * 258 + [3, 3, 3, 1]
merges = ["h e", "\u0120 w", "l l"]
w = gguf.GGUFWriter(os.path.join(here, "tiny.gguf"), "llama")
w.add_name("tiny llama")
w.add_block_count(1)
w.add_context_length(32)
w.add_embedding_length(DIM)
w.add_feed_forward_length(FF)
w.add_head_count(HEADS)
w.add_head_count_kv(KV_HEADS)
w.add_layer_norm_rms_eps(1e-5)
w.add_rope_freq_base(10000.0)
w.add_tokenizer_model("gpt2")
w.add_tokenizer_pre("smollm")
w.add_token_list(tokens)
w.add_token_types(types)
w.add_token_merges(merges)
w.add_eos_token_id(tokens.index("<|im_end|>"))
w.add_chat_template("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}")


def tensor(name, *shape):
    w.add_tensor(name, (rng.standard_normal(shape) * 0.1).astype(np.float32))


head_dim = DIM // HEADS
tensor("token_embd.weight", len(tokens), DIM)
tensor("output_norm.weight", DIM)
tensor("blk.0.attn_norm.weight", DIM)
tensor("blk.0.attn_q.weight", DIM, DIM)
tensor("blk.0.attn_k.weight", KV_HEADS * head_dim, DIM)
tensor("blk.0.attn_v.weight", KV_HEADS * head_dim, DIM)
tensor("blk.0.attn_output.weight", DIM, DIM)
tensor("blk.0.ffn_norm.weight", DIM)
tensor("blk.0.ffn_gate.weight", FF, DIM)
tensor("blk.0.ffn_up.weight", FF, DIM)
tensor("blk.0.ffn_down.weight", DIM, FF)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print("tiny.gguf written to", here)
