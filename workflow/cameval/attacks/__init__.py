"""Adversarial attacks: FGSM (Appendix C); one-pixel attacks come with Table 6."""

from cameval.attacks.fgsm import fgsm

__all__ = ["fgsm"]
