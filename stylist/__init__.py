"""stylist: caption garments, complete outfits with a LoRA-tuned LM, refine it on likes with DPO."""

__version__ = "0.1.0"
