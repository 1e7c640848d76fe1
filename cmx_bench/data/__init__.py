"""Images in: class folders and manifests, host pre-processing, synthetic phantoms."""
