"""Seeded synthetic storefront with planted truth."""

from tailor.synthetic.generator import GeneratorConfig, SegmentSpec, generate

__all__ = ["GeneratorConfig", "SegmentSpec", "generate"]
