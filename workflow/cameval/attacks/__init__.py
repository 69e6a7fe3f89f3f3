"""Adversarial attacks: FGSM (Appendix C) and one-pixel attacks (Table 6, Appendix F)."""

from cameval.attacks.fgsm import fgsm
from cameval.attacks.one_pixel import OnePixelAttack, OnePixelResult, one_pixel, population_logits

__all__ = ["fgsm", "one_pixel", "population_logits", "OnePixelAttack", "OnePixelResult"]
