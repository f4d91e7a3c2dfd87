"""Multipart uploads for files over `multipart_threshold`: the part plan and the journal
contract (`plan`), the XML both stores speak (`documents`), and the engine that sends
parts in parallel and resumes from a journal (`engine`). Each store brings its own
`PartStore` (`ossync.targets.oss.parts`, `ossync.targets.s3.parts`)."""

from ossync.core.objects import Checkpoint, Part
from ossync.targets.multipart.plan import Journal, MultipartSettings, PartPlan, plan_parts

__all__ = ["Checkpoint", "Journal", "MultipartSettings", "Part", "PartPlan", "plan_parts"]
