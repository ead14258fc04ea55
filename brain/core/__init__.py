"""The domain core that the brain's tools and the workflows share: one home for each rule of the yard.

- `YardContext`: a yard with its models (every call through the batch executor), work packages, plan, documents;
- `WorkPackageIndex`, `Scope`: the work package nodes, which one makes each node, what a code covers;
- `predict_joints`, `predict_items`: the welding and outfitting models over a set of joints or items;
- `select_for_ndt`: which joints to inspect within a budget;
- `YardPlan`: the plan book's adopted events and the schedules computed from them, cached.

```python
from brain.core import YardContext, predict_joints, select_for_ndt

ctx = YardContext.open(".shipbrain/yards/demo")          # an imported store
block = ctx.yard.nodes_of_role("block")[0]
scope = ctx.index.scope_of(ctx.yard.code_of(block))
welding = predict_joints(ctx, scope.joint_ids)
chosen = select_for_ndt(welding.defect_probability, share=0.1)
```
"""

from brain.core.context import YardContext
from brain.core.ndt import NdtMethod, full_extent_rule, ndt_method, select_for_ndt
from brain.core.predictions import ItemPredictions, JointPredictions, predict_items, predict_joints
from brain.core.workpackages import Scope, WorkPackageIndex
from brain.core.yardplan import YardPlan

__all__ = [
    "ItemPredictions",
    "JointPredictions",
    "NdtMethod",
    "Scope",
    "WorkPackageIndex",
    "YardContext",
    "YardPlan",
    "full_extent_rule",
    "ndt_method",
    "predict_items",
    "predict_joints",
    "select_for_ndt",
]
