"""From pretrained model to assistant: instructions, SFT, DPO, RL and a safety audit. Chapter 5.

The section "From language model to assistant" of chapter 5: a synthetic
instruction set whose answers an exact verifier checks, a chat format with its
own tokens, supervised fine-tuning (answer tokens only, or all), DPO and a
group-relative policy gradient against the SFT model as frozen reference, an
evaluation harness, and an audit of refusals of a planted secret.

Layer: uses ``utils.data``, ``utils.evaluate``, ``utils.lm`` and ``utils.runtime``.
"""

from __future__ import annotations

from utils.assistant.chat import (  # noqa: F401
    ASSISTANT,
    CHAT_TOKENS,
    END,
    USER,
    ChatBatch,
    add_tokens,
    chat_batch,
    chat_ready,
    chat_vocab,
    prompt_ids,
)
from utils.assistant.contamination import contaminated, ngram_overlap, ngrams  # noqa: F401
from utils.assistant.evaluation import (  # noqa: F401
    alignment_measures,
    evaluate_assistant,
    kl_from_reference,
    summarise_seeds,
)
from utils.assistant.generate import answer, generate_ids  # noqa: F401
from utils.assistant.instructions import (  # noqa: F401
    HELD_OUT_TYPES,
    INSTRUCTION_WORDS,
    TRAINED_TYPES,
    Example,
    instruction_set,
    is_correct,
    make_examples,
)
from utils.assistant.objectives import (  # noqa: F401
    answer_log_probs,
    dpo_loss,
    group_advantages,
    policy_gradient_loss,
    sft_loss,
    token_log_probs,
)
from utils.assistant.runs import (  # noqa: F401
    REWARDS,
    DPOConfig,
    RLConfig,
    SFTConfig,
    dpo_run,
    preference_pairs,
    rl_run,
    sft_run,
    task_data,
)
from utils.assistant.safety import (  # noqa: F401
    JAILBREAKS,
    REFUSAL,
    leaks,
    safety_audit,
    safety_training_pairs,
)
from utils.assistant.training import (  # noqa: F401
    Pair,
    frozen_copy,
    train_dpo,
    train_rl,
    train_sft,
)

__all__ = [
    "ASSISTANT", "CHAT_TOKENS", "ChatBatch", "DPOConfig", "END", "Example", "HELD_OUT_TYPES",
    "INSTRUCTION_WORDS", "JAILBREAKS", "Pair", "REFUSAL", "REWARDS", "RLConfig", "SFTConfig",
    "TRAINED_TYPES", "USER", "add_tokens", "alignment_measures", "answer", "answer_log_probs",
    "chat_batch", "chat_ready", "chat_vocab", "contaminated", "dpo_loss", "dpo_run",
    "evaluate_assistant",
    "frozen_copy", "generate_ids", "group_advantages", "instruction_set", "is_correct",
    "kl_from_reference", "leaks", "make_examples", "ngram_overlap", "ngrams",
    "policy_gradient_loss", "preference_pairs", "prompt_ids", "rl_run", "safety_audit",
    "safety_training_pairs", "sft_loss", "sft_run", "summarise_seeds", "task_data",
    "token_log_probs", "train_dpo", "train_rl", "train_sft",
]
