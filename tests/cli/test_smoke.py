from support import write


def test_add_then_show(repo, work):
    write(work / "m.bin", b"weights")
    out = repo.json("add", "m.bin", "--name", "resnet", "--metric", "accuracy=0.9")
    assert out["ref"] == "resnet@0.1.0" and out["created"] is True
    shown = repo.json("show", "resnet")
    assert shown["metrics"] == {"accuracy": 0.9}
