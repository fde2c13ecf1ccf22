"""`pycontain build` pulls a base image its store lacks (a reference that
names its registry), as `run` does."""


def test_build_pulls_a_missing_base(pc, images, tmp_path):
    pc("rmi", images.oci)  # another test may have pulled it already
    (tmp_path / "Dockerfile").write_text(f"FROM {images.oci}\nRUN echo built > /built\n")
    result = pc("build", "--network", "none", "-t", "frompulled", tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert pc.out("run", "--rm", "frompulled", "cat", "/built") == "built\n"
    assert images.oci.rpartition(":")[0] in pc.out("images")  # pulled, then built on
