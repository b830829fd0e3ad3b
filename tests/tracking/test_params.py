import pytest

from genrec.tracking.params import flatten_gin_config, run_params

CONFIG = """
import genrec.modeling.model

# Parameters for Trainer:
# ==============================================================================
NUM_ITEMS = 1682
Trainer.optimizer = @adamw
Trainer.num_epochs = 3
Trainer.selection_metric = 'ndcg@10'
eval/Trainer.batch_size = 512
HSTU.block_dims = [64,
    64]
RetrievalModel.encoder = @HSTU()
RetrievalModel.num_items = %NUM_ITEMS
"""


def test_each_binding_becomes_one_param_in_gin_spelling():
    params = flatten_gin_config(CONFIG)

    assert params == {
        "NUM_ITEMS": "1682",
        "Trainer.optimizer": "@adamw",
        "Trainer.num_epochs": "3",
        "Trainer.selection_metric": "ndcg@10",
        "eval/Trainer.batch_size": "512",
        "HSTU.block_dims": "[64, 64]",
        "RetrievalModel.encoder": "@HSTU()",
        "RetrievalModel.num_items": "%NUM_ITEMS",
    }


def test_unparsable_config_names_the_line():
    with pytest.raises(SyntaxError) as error:
        flatten_gin_config("Trainer.num_epochs = 3\nTrainer.seed = = 1\n")

    assert error.value.lineno == 2


def test_run_params_add_operative_defaults_to_explicit_bindings():
    explicit = "Trainer.num_epochs = 3\nevaluate_split.batch_size = 64\n"
    operative = (
        "Trainer.num_epochs = 3\nTrainer.bf16 = True\nadamw.betas = (0.9, 0.98)\n"
    )

    params = run_params(explicit, operative)

    assert params == {
        "Trainer.num_epochs": "3",
        "evaluate_split.batch_size": "64",
        "Trainer.bf16": "True",
        "adamw.betas": "(0.9, 0.98)",
    }
