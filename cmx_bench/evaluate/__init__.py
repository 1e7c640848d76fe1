"""Classification metrics: accuracy, per-class recall, the paper's AUROC tasks."""
