"""Evaluation figures as PNG bytes: ROC curves (Figure 4), t-SNE (Figure 3), Grad-CAM overlays (Figure 5)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from cmx_bench.evaluate.metrics import AUROC_TASKS
from cmx_bench.pngfig import figure_png  # selects the headless Agg backend

TASK_TITLES = {"covid_vs_normal": "COVID-19 vs normal", "covid_vs_pneumonia": "COVID-19 vs pneumonia",
               "covid_vs_rest": "COVID-19 vs normal + pneumonia"}



def roc_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], classes) -> bytes:
    """Figure 4 layout: one panel per task, one curve per named (probs, labels) set."""
    covid = classes.index("covid")
    figure, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    for axis, (task, negatives) in zip(axes, AUROC_TASKS.items()):
        keep_ids = [covid, *[classes.index(n) for n in negatives]]
        for name, (probs, labels) in curves.items():
            keep = np.isin(labels, keep_ids)
            truth = (labels[keep] == covid).astype(int)
            if 0 < truth.sum() < truth.size:
                fpr, tpr, _ = roc_curve(truth, probs[keep, covid])
                axis.plot(fpr, tpr, label=f"{name} (AUROC {roc_auc_score(truth, probs[keep, covid]):.3f})")
        axis.plot([0, 1], [0, 1], color="grey", linestyle=":")
        axis.set_title(TASK_TITLES[task])
        axis.set_xlabel("1 - specificity")
        axis.set_ylabel("sensitivity")
        axis.legend(fontsize=8, loc="lower right")
    return figure_png(figure)


def tsne_figure(features_by_set: dict[str, tuple[np.ndarray, np.ndarray]], classes, seed: int = 0) -> bytes:
    """Figure 3: 2-D t-SNE of penultimate features, one panel per set (clean, snapshots)."""
    from sklearn.manifold import TSNE

    figure, axes = plt.subplots(1, len(features_by_set), figsize=(5 * len(features_by_set), 4.5), squeeze=False)
    for axis, (name, (features, labels)) in zip(axes[0], features_by_set.items()):
        perplexity = max(2.0, min(30.0, (len(features) - 1) / 3))
        embedded = TSNE(n_components=2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(features)
        for index, label in enumerate(classes):
            chosen = labels == index
            axis.scatter(embedded[chosen, 0], embedded[chosen, 1], s=12, label=label)
        axis.set_title(f"t-SNE: {name}")
        axis.legend(fontsize=8)
        axis.set_xticks([])
        axis.set_yticks([])
    return figure_png(figure)


def gradcam_figure(model, target_layer, tensors, rgb_images, class_index: int, titles) -> bytes:
    """Figure 5: images above, Grad-CAM heat maps for `class_index` laid over them below."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.image import show_cam_on_image
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    import torch

    with GradCAM(model=model, target_layers=[target_layer]) as cam:
        maps = cam(input_tensor=torch.cat(tensors), targets=[ClassifierOutputTarget(class_index)] * len(tensors))
    figure, axes = plt.subplots(2, len(tensors), figsize=(3 * len(tensors), 6.2), squeeze=False)
    for column, (rgb, heat, title) in enumerate(zip(rgb_images, maps, titles)):
        axes[0, column].imshow(rgb)
        axes[0, column].set_title(title, fontsize=8)
        axes[1, column].imshow(show_cam_on_image(rgb, heat, use_rgb=True))
        for row in (0, 1):
            axes[row, column].axis("off")
    return figure_png(figure)
