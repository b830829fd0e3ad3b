import pytest

from genrec.tracking.params import flatten_gin_config

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
