"""The intent head: a softmax layer on the frozen encoder's sentence embedding and word pieces.

Trained with numpy (no PyTorch on the device), written as a tiny ONNX graph with onnx.helper and
run in onnxruntime.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

EPOCHS = 80
BATCH = 256
LEARNING_RATE = 0.01
L2 = 1e-5
L2_TOKENS = 1e-5
# Embeddings are unit length; scaling them lets a linear layer reach confident probabilities.
INPUT_SCALE = 10.0


def train_softmax(
    x: np.ndarray,
    tokens: list[np.ndarray],
    vocab_size: int,
    y: np.ndarray,
    classes: int,
    seed: int = 0,
    progress: bool = True,
):
    """Multinomial logistic regression on [sentence embedding, bag of word pieces].

    The embedding carries the meaning of a paraphrase; the word pieces carry the small words it
    blurs ("on" against "off"). Adam, class-balanced weights. Returns (W, W_tokens, b).
    """
    rng = np.random.default_rng(seed)
    x = x.astype(np.float32) * INPUT_SCALE
    n, dim = x.shape
    w = np.zeros((dim, classes), np.float32)
    w_tok = np.zeros((vocab_size, classes), np.float32)
    b = np.zeros(classes, np.float32)
    counts = np.bincount(y, minlength=classes).astype(np.float32)
    sample_weight = (n / (classes * np.maximum(counts, 1)))[y] ** 0.5
    params = [w, w_tok, b]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    beta1, beta2, eps, step = 0.9, 0.999, 1e-8, 0
    onehot = np.eye(classes, dtype=np.float32)
    bags = _bags(tokens, vocab_size)
    from tqdm import tqdm  # training only: a device serving cached heads never loads it

    for _ in tqdm(range(EPOCHS), desc="training intent head", unit="epoch", disable=not progress):
        order = rng.permutation(n)
        for start in range(0, n, BATCH):
            idx = order[start : start + BATCH]
            bag = bags[idx]
            logits = x[idx] @ w + bag @ w_tok + b
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits)
            probs /= probs.sum(axis=1, keepdims=True)
            grad = (probs - onehot[y[idx]]) * sample_weight[idx, None] / len(idx)
            grads = [x[idx].T @ grad + L2 * w, bag.T @ grad + L2_TOKENS * w_tok, grad.sum(axis=0)]
            step += 1
            for param, g, (m, v) in zip(params, grads, moments):
                m *= beta1
                m += (1 - beta1) * g
                v *= beta2
                v += (1 - beta2) * g * g
                param -= LEARNING_RATE * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + eps)
    w_tok[0] = 0.0
    return w * INPUT_SCALE, w_tok, b


def _bags(tokens: list[np.ndarray], vocab_size: int):
    """The sentences' bags of word pieces as a sparse 0/1 matrix [N, vocab_size] (a sentence has ~10
    of the thousands of pieces: dense batches made training several times slower)."""
    from scipy import sparse

    rows = np.repeat(np.arange(len(tokens)), [len(t) for t in tokens])
    cols = np.concatenate(tokens) if tokens else np.zeros(0, np.int64)
    bags = sparse.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)), shape=(len(tokens), vocab_size))
    bags.data[bags.indices == 0] = 0.0  # index 0 stands for word pieces never seen in training
    bags.sum_duplicates()
    bags.data[:] = np.minimum(bags.data, 1.0)
    return bags


def softmax_head_onnx(w: np.ndarray, w_tok: np.ndarray, b: np.ndarray) -> bytes:
    """ONNX graph: embedding [1, D] and word-piece indices [K] -> probabilities [1, C]."""
    # onnx (11 MB resident) is needed only to write a newly trained head, not to run one.
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    dim, classes = w.shape
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["embedding", "W", "b"], ["sentence_logits"]),
            helper.make_node("Gather", ["W_tokens", "pieces"], ["piece_logits"], axis=0),
            helper.make_node("ReduceSum", ["piece_logits", "axes"], ["bag_logits"], keepdims=1),
            helper.make_node("Add", ["sentence_logits", "bag_logits"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "intent_head",
        [
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, dim]),
            helper.make_tensor_value_info("pieces", TensorProto.INT64, ["K"]),
        ],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, classes])],
        initializer=[
            numpy_helper.from_array(w.astype(np.float32), "W"),
            numpy_helper.from_array(b.astype(np.float32), "b"),
            numpy_helper.from_array(w_tok.astype(np.float32), "W_tokens"),
            numpy_helper.from_array(np.array([0], dtype=np.int64), "axes"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="samantha")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


class OnnxHead:
    """A trained head, run in onnxruntime."""

    def __init__(self, model_bytes: bytes) -> None:
        options = ort.SessionOptions()
        options.enable_cpu_mem_arena = False  # a memory arena never gives back; see services/memory.py
        options.intra_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])

    def __call__(self, embedding: np.ndarray, pieces: np.ndarray) -> np.ndarray:
        pieces = pieces if len(pieces) else np.zeros(1, np.int64)
        return self.session.run(None, {"embedding": embedding.reshape(1, -1), "pieces": pieces})[0]
