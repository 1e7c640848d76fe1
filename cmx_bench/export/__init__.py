"""Mobile artifacts: ExecuTorch .pte (XNNPACK, fp32 / int8) and PyTorch Mobile lite .ptl, with manifests and parity checks."""
