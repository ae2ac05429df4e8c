"""The enhancer catalogue: what the deployment offers, which plans may use it, what workers run."""
