"bench_mining.py's variant record: the entry a three-seed comparison leaves in benchmarks/results/mining_variants.json."
import importlib.util, json
from pathlib import Path


def _bench_mining():
    spec = importlib.util.spec_from_file_location('bench_mining', Path(__file__).parent.parent/'benchmarks'/'bench_mining.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def test_variant_is_recorded_with_its_command_and_others_kept(tmp_path):
    bm, path = _bench_mining(), tmp_path/'variants.json'
    path.write_text(json.dumps({'note': 'file note', 'old': {'seeds': [], 'note': 'kept as it was'}}, indent=1) + '\n')
    result = dict(real='r.csv', run='runs/_c2k', scenes_run='runs/_c2k', frontend='logmel', train={'mixup_alpha': 0.2}, seeds=[{'seed': 0}])
    bm.record_variant(result, 'mixup', 'Paired with old.', "bench_mining.py --train 'mixup_alpha=0.2'", path)
    bm.record_variant(dict(result, seeds=[{'seed': 0}, {'seed': 1}]), 'mixup', '', 'bench_mining.py --seeds 0 1', path)
    d = json.loads(path.read_text())
    assert list(d) == ['note', 'old', 'mixup'] and d['old'] == {'seeds': [], 'note': 'kept as it was'}
    assert d['mixup']['seeds'] == [{'seed': 0}, {'seed': 1}] and d['mixup']['train'] == {'mixup_alpha': 0.2}
    assert d['mixup']['note'] == 'Command: bench_mining.py --seeds 0 1'           # a re-run replaces the entry whole
    bm.record_variant(result, 'mixup', 'Paired with old.', 'bench_mining.py --x', path)
    assert json.loads(path.read_text())['mixup']['note'] == 'Paired with old. Command: bench_mining.py --x'
