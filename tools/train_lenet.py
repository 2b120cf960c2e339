"""Train LeNet-5 (specs/lenet.yaml) on scikit-learn's handwritten digits and write the weights the repo
ships: weights/lenet.safetensors, weights/lenet.wts, and weights/lenet_heldout.npz (held-out images,
their labels, and PyTorch's softmax output and predicted class for each).

    pip install -e '.[tools]'        # torch==2.13.0 (CPU) and scikit-learn
    python tools/train_lenet.py      # about a minute on two CPU cores

The digits (1,797 images of 8x8 pixels, 0..16, in scikit-learn's package) are scaled to 0..1 and
resized to 32x32 with bilinear interpolation, the spec's input. A stratified 20% split (seed 0) is held
out and never trained on. Runs are reproducible on one machine (fixed seeds, one thread, deterministic
algorithms); another CPU may round differently and end with slightly different weights.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from netdsl.weights.from_torch import export_weights  # noqa: E402


class LeNet(nn.Module):
    """The layers of specs/lenet.yaml, under the same names."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)  # logits; the spec's `prob` layer is the softmax


def digits_32x32():
    """(images [N, 1, 32, 32] float32 in 0..1, labels [N] int64)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)
    images = F.interpolate(images, size=(32, 32), mode="bilinear", align_corners=False)
    return images.numpy(), digits.target.astype(np.int64)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "weights"), help="folder to write into")
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args(argv)

    from sklearn.model_selection import train_test_split

    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    images, labels = digits_32x32()
    train_x, test_x, train_y, test_y = train_test_split(images, labels, test_size=0.2, stratify=labels,
                                                        random_state=0)
    model = LeNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(0)
    x, y = torch.from_numpy(train_x), torch.from_numpy(train_y)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), 64):
            batch = order[start:start + 64]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        if epoch % 10 == 9 or epoch == args.epochs - 1:
            print(f"epoch {epoch + 1}: training loss {total / len(x):.4f}")

    model.eval()
    with torch.no_grad():
        prob = F.softmax(model(torch.from_numpy(test_x)), dim=1).numpy()
    predicted = prob.argmax(axis=1)
    accuracy = float((predicted == test_y).mean())
    print(f"held-out accuracy: {accuracy:.4f} ({int((predicted == test_y).sum())}/{len(test_y)})")

    os.makedirs(args.out, exist_ok=True)
    metadata = {"dataset": "sklearn.datasets.load_digits, 8x8 -> 32x32 bilinear, /16", "split": "stratified 20%, "
                "random_state 0", "epochs": str(args.epochs), "heldout_accuracy": f"{accuracy:.4f}",
                "torch": torch.__version__}
    export_weights(model, os.path.join(args.out, "lenet.safetensors"), metadata=metadata)
    export_weights(model, os.path.join(args.out, "lenet.wts"))
    np.savez_compressed(os.path.join(args.out, "lenet_heldout.npz"), images=test_x, labels=test_y, prob=prob,
                        predicted=predicted.astype(np.int64))
    print(f"wrote lenet.safetensors, lenet.wts and lenet_heldout.npz in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
