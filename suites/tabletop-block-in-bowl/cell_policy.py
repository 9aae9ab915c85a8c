"""An affordance-style PPO policy for (pick cell, place cell) actions: one small network scores every
grid cell from the cell's offsets to each object, as Ravens' Transporter scores every pixel.

Why not a plain MLP from the state vector to 441 + 441 logits: it must learn each cell's logit
separately, so a success at one block position teaches nothing about the next.  A score shared
by all cells is translation-equivariant: one success ("pick where the offset to the red block is
near zero") holds wherever the red block is.  The policy still sees only the state vector and
still chooses among every cell; nothing snaps a pick to a block.

Loaded by tabletop.py (TabletopAdapter.policy_class) only when training, so torch and
stable-baselines3 are imported only then.
"""
from __future__ import annotations

import numpy as np
import torch
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn

OFFSET_SCALE = 5.0   # offsets in units of 5 cm (the observation's unit is 25 cm): blocks are 4 cm


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.Tanh()]
    return nn.Sequential(*layers)


class CellScorer(nn.Module):
    """latent_pi: pick and place logits for every cell, (batch, 2 * cells); latent_vf: the value net's features.

    Per cell: its offsets to every object (x, y) and a summary of the whole state go through one
    shared network to a pick score and a place score."""

    def __init__(self, obs_size: int, points: np.ndarray, hidden: list[int]):
        super().__init__()
        self.register_buffer("points", torch.as_tensor(points, dtype=torch.float32))   # (cells, 2), obs units
        self.objects = obs_size // 3
        context = hidden[0] // 2
        self.context = _mlp([obs_size, hidden[0], context])
        self.cells = _mlp([2 * self.objects + context, *hidden])
        self.head = nn.Linear(hidden[-1], 2)   # pick score, place score
        self.value = _mlp([obs_size, *hidden])
        self.latent_dim_pi = 2 * len(points)
        self.latent_dim_vf = hidden[-1]

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_actor(obs), self.forward_critic(obs)

    def forward_actor(self, obs: torch.Tensor) -> torch.Tensor:
        batch, cells = obs.shape[0], self.points.shape[0]
        xy = obs.reshape(batch, self.objects, 3)[:, :, :2]
        offsets = (self.points[None, :, None, :] - xy[:, None, :, :]) * OFFSET_SCALE   # (batch, cells, objects, 2)
        context = self.context(obs)[:, None, :].expand(batch, cells, -1)
        scores = self.head(self.cells(torch.cat([offsets.reshape(batch, cells, -1), context], dim=2)))
        return torch.cat([scores[:, :, 0], scores[:, :, 1]], dim=1)   # MultiDiscrete: pick logits, then place

    def forward_critic(self, obs: torch.Tensor) -> torch.Tensor:
        return self.value(obs)


class CellScorePolicy(ActorCriticPolicy):
    """ActorCriticPolicy whose action logits are CellScorer's scores as they are (no action layer on top).

    `points`: the grid's cell points in observation units, one row per cell, in the action's cell order."""

    def __init__(self, *args, points: np.ndarray, **kwargs):
        self.points = np.asarray(points, np.float32)
        super().__init__(*args, **kwargs)

    def _build_mlp_extractor(self) -> None:
        hidden = list(self.net_arch) if isinstance(self.net_arch, list) else [64, 64]
        self.mlp_extractor = CellScorer(self.features_dim, self.points, hidden)

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)
        self.action_net = nn.Identity()
        # Near-uniform first choices over the cells, as SB3's 0.01-gain action layer would give.
        nn.init.orthogonal_(self.mlp_extractor.head.weight, gain=0.01)
        nn.init.zeros_(self.mlp_extractor.head.bias)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)
