"""The intent head: a softmax layer on the frozen encoder's sentence embedding.

Trained with numpy (no PyTorch on the device), written as a tiny ONNX graph with onnx.helper and
run in onnxruntime.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from tqdm import tqdm

EPOCHS = 60
BATCH = 256
LEARNING_RATE = 0.01
L2 = 1e-5
# Embeddings are unit length; scaling them lets a linear layer reach confident probabilities.
INPUT_SCALE = 10.0


def train_softmax(x: np.ndarray, y: np.ndarray, classes: int, seed: int = 0, progress: bool = True):
    """Multinomial logistic regression with Adam and class-balanced weights; returns (W, b)."""
    rng = np.random.default_rng(seed)
    x = x.astype(np.float32) * INPUT_SCALE
    n, dim = x.shape
    w = np.zeros((dim, classes), np.float32)
    b = np.zeros(classes, np.float32)
    counts = np.bincount(y, minlength=classes).astype(np.float32)
    sample_weight = (n / (classes * np.maximum(counts, 1)))[y] ** 0.5
    m_w, v_w, m_b, v_b = (np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b))
    beta1, beta2, eps, step = 0.9, 0.999, 1e-8, 0
    onehot = np.eye(classes, dtype=np.float32)
    for _ in tqdm(range(EPOCHS), desc="training intent head", unit="epoch", disable=not progress):
        order = rng.permutation(n)
        for start in range(0, n, BATCH):
            idx = order[start : start + BATCH]
            logits = x[idx] @ w + b
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits)
            probs /= probs.sum(axis=1, keepdims=True)
            grad = (probs - onehot[y[idx]]) * sample_weight[idx, None] / len(idx)
            g_w = x[idx].T @ grad + L2 * w
            g_b = grad.sum(axis=0)
            step += 1
            for param, g, m, v in ((w, g_w, m_w, v_w), (b, g_b, m_b, v_b)):
                m *= beta1
                m += (1 - beta1) * g
                v *= beta2
                v += (1 - beta2) * g * g
                param -= LEARNING_RATE * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + eps)
    return w * INPUT_SCALE, b


def softmax_head_onnx(w: np.ndarray, b: np.ndarray) -> bytes:
    """ONNX graph: embedding [N, D] -> probabilities [N, C]."""
    dim, classes = w.shape
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["embedding", "W", "b"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "intent_head",
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", dim])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes])],
        initializer=[
            numpy_helper.from_array(w.astype(np.float32), "W"),
            numpy_helper.from_array(b.astype(np.float32), "b"),
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
        options.intra_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])

    def __call__(self, embedding: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"embedding": embedding.reshape(-1, embedding.shape[-1])})[0]
