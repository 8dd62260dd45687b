"""DRRN (He et al., 2016, "Deep Reinforcement Learning with a Natural Language Action
Space"): the text-game baseline of the GLAM paper, trained by Q-learning.

Separate GRU encoders read the state text and each admissible action's text;
an MLP scores every (state, action) pair. :class:`DRRN` trains it on a
Gymnasium vector env of text games (glam_env's protocol) with epsilon-greedy
exploration, a replay buffer of texts and a target network; :class:`DRRNPolicy`
answers glam_ppo's actor-critic contract, so ``glam_ppo.evaluate`` evaluates it.
"""

from glam_ppo.drrn.config import DRRNConfig
from glam_ppo.drrn.encoding import EncodedBatch, encode_batch
from glam_ppo.drrn.exploration import epsilon_greedy
from glam_ppo.drrn.learner import q_learning_step, q_loss, td_targets
from glam_ppo.drrn.network import DRRNNetwork
from glam_ppo.drrn.policy import DRRNPolicy, masked_max, state_text
from glam_ppo.drrn.replay import ReplayBuffer, Transitions
from glam_ppo.drrn.saving import is_saved_drrn_policy, load_drrn_policy, save_drrn_policy
from glam_ppo.drrn.tokenizer import FIELD_SEPARATOR, WordTokenizer
from glam_ppo.drrn.trainer import DRRN

__all__ = [
    "DRRN",
    "FIELD_SEPARATOR",
    "DRRNConfig",
    "DRRNNetwork",
    "DRRNPolicy",
    "EncodedBatch",
    "ReplayBuffer",
    "Transitions",
    "WordTokenizer",
    "encode_batch",
    "epsilon_greedy",
    "is_saved_drrn_policy",
    "load_drrn_policy",
    "masked_max",
    "q_learning_step",
    "q_loss",
    "save_drrn_policy",
    "state_text",
    "td_targets",
]
