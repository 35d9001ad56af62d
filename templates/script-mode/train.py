"""A SageMaker script-mode training script: a small PyTorch classifier for the wine data set.

It is written for SageMaker and runs unchanged there and under hpjobs: hyperparameters arrive as
``--key value`` arguments, folders come from the ``SM_*`` variables, and the model is saved to
``SM_MODEL_DIR``. Each epoch prints a line that the job's MetricDefinitions turn into metrics.
"""

import argparse
import csv
import json
import os
from pathlib import Path

import torch
from torch import nn


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--hidden-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "model"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN", "data"))
    return parser.parse_args()


def load(folder):
    rows = []
    for path in sorted(Path(folder).glob("*.csv")):
        with open(path, newline="") as handle:
            rows += [[float(v) for v in row] for row in csv.reader(handle) if row]
    data = torch.tensor(rows)
    return data[:, 1:], data[:, 0].long()


def main():
    args = parse_args()
    torch.manual_seed(args.seed)
    features, labels = load(args.train)
    features = (features - features.mean(0)) / features.std(0).clamp_min(1e-6)
    order = torch.randperm(len(labels))
    cut = int(0.8 * len(labels))
    train, valid = order[:cut], order[cut:]
    classes = int(labels.max()) + 1
    model = nn.Sequential(
        nn.Linear(features.shape[1], args.hidden_size),
        nn.ReLU(),
        nn.Linear(args.hidden_size, classes),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, args.epochs + 1):
        model.train()
        optimizer.zero_grad()
        loss = loss_fn(model(features[train]), labels[train])
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(features[valid])
            val_loss = loss_fn(logits, labels[valid]).item()
            accuracy = (logits.argmax(1) == labels[valid]).float().mean().item()
        print(
            f"epoch={epoch} train_loss={loss.item():.4f} val_loss={val_loss:.4f} "
            f"val_accuracy={accuracy:.4f}"
        )
    model_dir = Path(args.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), model_dir / "model.pth")
    (model_dir / "model.json").write_text(
        json.dumps({"hidden_size": args.hidden_size, "classes": classes})
    )


if __name__ == "__main__":
    main()
