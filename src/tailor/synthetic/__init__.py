"""Seeded synthetic storefront with planted truth."""

from tailor.synthetic.chunked import write_chunked
from tailor.synthetic.generator import GeneratorConfig, SegmentSpec, generate

__all__ = ["GeneratorConfig", "SegmentSpec", "generate", "write_chunked"]
