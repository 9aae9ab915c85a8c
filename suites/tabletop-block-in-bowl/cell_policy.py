"""An affordance-style PPO policy for (pick cell, place cell) actions: one small network scores every
grid cell from the cell's offsets to the objects, as Ravens' Transporter scores every pixel.

Why not a plain MLP from the state vector to 441 + 441 logits: it must learn each cell's logit
separately, so a success at one block position teaches nothing about the next.  A score shared
by all cells is translation-equivariant: one success ("pick where the offset to the red block is
near zero") holds wherever the red block is.  The policy still sees only the state vector and
still chooses among every cell; nothing snaps a pick to a block.

Loaded by tabletop.py (TabletopAdapter.policy) only when training, so torch and
stable-baselines3 are imported only then.
"""
from __future__ import annotations

import numpy as np
import torch
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn

OFFSET_SCALE = 5.0   # offsets in units of 5 cm (the observation's unit is 25 cm): blocks are 4 cm
# Closeness exp(-(d / NEAR)^2) of a cell to each object, NEAR = 3 cm in observation units: "on this
# block" or "over this bowl's floor" is then one input, and a handful of rewarded picks are enough
# to weight it (an MLP would otherwise have to carve that disc out of the offsets first).
NEAR = 0.03 / 0.25
# The first policy's lean towards cells near some object, any object (a block or a bowl, whatever
# its colour): a learnable weight on max(closeness), starting at this value.  A uniform first
# policy picks the red block and drops it in the red bowl about once in 4,000 primitives (a 4 cm
# block in a 50 cm square, times a 12 cm bowl); leaning towards objects makes that about 20 times
# likelier, which is what lets PPO start learning within minutes.  It says where things are, not
# which block goes where: every cell keeps a non-zero probability and the weight is trained.
OBJECT_PRIOR = 3.0
PAIR = 0.06 / 0.25   # a block within a bowl's 6 cm inner radius of its centre is close to it


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.Tanh()]
    return nn.Sequential(*layers)


class CellScorer(nn.Module):
    """latent_pi: pick and place logits for every cell, (batch, 2 * cells); latent_vf: the value net's features.

    A cell's score is a sum over the task's (block, receptacle) pairs of one network shared by
    the pairs: its inputs are the cell's offsets to the pair's block and receptacle, its closeness
    to each, which pair it is (one-hot), and how close every pair's block is to its receptacle
    (where the task stands).  Sharing across pairs lets "pick a block that is not in its bowl"
    learnt on the red pair carry to the green and blue ones; the one-hot lets the policy still
    prefer an order."""

    def __init__(self, obs_size: int, points: np.ndarray, pairs: list[tuple[int, int]], hidden: list[int]):
        super().__init__()
        self.register_buffer("points", torch.as_tensor(points, dtype=torch.float32))   # (cells, 2), obs units
        self.objects = obs_size // 3
        self.blocks = [b for b, _ in pairs]
        self.receptacles = [r for _, r in pairs]
        self.register_buffer("which", torch.eye(len(pairs)))
        size = 6 + 2 * len(pairs)
        self.pick = nn.Sequential(_mlp([size, *hidden]), nn.Linear(hidden[-1], 1))
        self.place = nn.Sequential(_mlp([size, *hidden]), nn.Linear(hidden[-1], 1))
        self.prior = nn.Parameter(torch.full((2,), OBJECT_PRIOR))
        self.value = _mlp([obs_size + len(pairs), *hidden])
        self.latent_dim_pi = 2 * len(points)
        self.latent_dim_vf = hidden[-1]

    def _stage(self, xy: torch.Tensor) -> torch.Tensor:
        """Per pair, how close its block is to its receptacle: (batch, pairs), 1 on top of it."""
        gap = ((xy[:, self.blocks] - xy[:, self.receptacles]) ** 2).sum(dim=2)
        return torch.exp(-gap / PAIR ** 2)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_actor(obs), self.forward_critic(obs)

    def forward_actor(self, obs: torch.Tensor) -> torch.Tensor:
        batch, cells, pairs = obs.shape[0], self.points.shape[0], len(self.blocks)
        xy = obs.reshape(batch, self.objects, 3)[:, :, :2]
        offsets = self.points[None, :, None, :] - xy[:, None, :, :]   # (batch, cells, objects, 2)
        near = torch.exp(-(offsets ** 2).sum(dim=3) / NEAR ** 2)      # (batch, cells, objects)
        shape = (batch, cells, pairs, -1)
        features = torch.cat([
            offsets[:, :, self.blocks] * OFFSET_SCALE, offsets[:, :, self.receptacles] * OFFSET_SCALE,
            near[:, :, self.blocks, None], near[:, :, self.receptacles, None],
            self.which.expand(*shape[:3], pairs),
            self._stage(xy)[:, None, None, :].expand(*shape[:3], pairs)], dim=3)
        scores = torch.cat([self.pick(features).sum(dim=2), self.place(features).sum(dim=2)], dim=2)
        scores = scores + self.prior * near.max(dim=2, keepdim=True).values
        return torch.cat([scores[:, :, 0], scores[:, :, 1]], dim=1)   # MultiDiscrete: pick logits, then place

    def forward_critic(self, obs: torch.Tensor) -> torch.Tensor:
        xy = obs.reshape(obs.shape[0], self.objects, 3)[:, :, :2]
        return self.value(torch.cat([obs, self._stage(xy)], dim=1))


class CellScorePolicy(ActorCriticPolicy):
    """ActorCriticPolicy whose action logits are CellScorer's scores as they are (no action layer on top).

    `points`: the grid's cell points in observation units, one row per cell, in the action's cell order;
    `pairs`: (block, receptacle) object indices in the state vector, one per block."""

    def __init__(self, *args, points: np.ndarray, pairs: list[tuple[int, int]], **kwargs):
        self.points, self.pairs = np.asarray(points, np.float32), [tuple(p) for p in pairs]
        super().__init__(*args, **kwargs)

    def _build_mlp_extractor(self) -> None:
        hidden = list(self.net_arch) if isinstance(self.net_arch, list) else [64, 64]
        self.mlp_extractor = CellScorer(self.features_dim, self.points, self.pairs, hidden)

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)
        self.action_net = nn.Identity()
        # Near-uniform first choices over the cells (the prior aside), as SB3's 0.01-gain action layer would give.
        for head in (self.mlp_extractor.pick[-1], self.mlp_extractor.place[-1]):
            nn.init.orthogonal_(head.weight, gain=0.01)
            nn.init.zeros_(head.bias)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)
