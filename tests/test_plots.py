"""gf.plots: real PNG files from real databases bred with evolve()."""

import struct
import subprocess
import sys

import pytest
from click.testing import CliRunner

from gf import GeneticFuckery, GfError, InputError, metrics, plots, plugins, store
from gf.cli import cli

from test_evolve import START, objective

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def bred(db_path, generations=4, population=8, datasets=("a", "b")):
    """Breed ``generations`` generations from the loaded groups; return an open connection."""
    GeneticFuckery(dbfile=db_path).evolve(objective, metric="value", minimize=True, generations=generations,
                                          population=population, datasets=list(datasets), seed=1)
    return store.connect(db_path)


@pytest.fixture(scope="module")
def bred_db(tmp_path_factory):
    """One database bred for 4 generations, shared by the tests that only read it (plots only read)."""
    path = tmp_path_factory.mktemp("plots") / "bred.db"
    (path.parent / "start.js").write_text(START)
    with pytest.MonkeyPatch.context() as patch:  # the same clean setup as conftest's autouse fixture
        patch.setenv("GF_LOAD_PLUGINS", "")
        plugins.reset()
        result = CliRunner().invoke(cli, ["load", "--db", str(path), str(path.parent / "start.js")])
        assert result.exit_code == 0, result.output
        bred(str(path)).close()
        plugins.reset()
    return str(path)


@pytest.fixture
def conn(bred_db):
    connection = store.connect(bred_db, create=False)
    yield connection
    connection.close()


def assert_picture(path, width, height):
    """A PNG of exactly ``width`` x ``height`` pixels with something drawn on it."""
    with open(path, "rb") as handle:
        head = handle.read(24)
    assert head[:8] == PNG_SIGNATURE
    assert head[12:16] == b"IHDR"
    assert struct.unpack(">II", head[16:24]) == (width, height)

    import matplotlib.image

    pixels = matplotlib.image.imread(path)
    assert pixels.shape[:2] == (height, width)
    rgb = pixels[..., :3].reshape(-1, 3)
    packed = (rgb * 255).round().astype(int) @ [1 << 16, 1 << 8, 1]
    assert len(set(packed.tolist())) > 50  # lines, text, antialiasing: not a blank or one-colour canvas
    not_white = (rgb < 0.95).any(axis=1).mean()
    assert 0.01 < not_white < 0.9


def test_progress_writes_a_png(conn, tmp_path):
    output = tmp_path / "progress.png"
    written = plots.progress(conn, metrics.resolve("value"), output, minimize=True)
    assert written == str(output)
    assert_picture(output, 1000, 600)


def test_progress_size_and_one_dataset(conn, tmp_path):
    output = tmp_path / "small.png"
    plots.progress(conn, metrics.resolve("value"), str(output), minimize=True, datasets=["b"],
                   width=4, height=3, dpi=50)
    assert_picture(output, 200, 150)


def test_progress_series_is_best_and_median_per_generation(conn):
    metric = metrics.resolve("value")
    series = plots.progress_series(conn, metric, minimize=True)
    assert list(series) == ["a", "b"]
    for dataset, points in series.items():
        assert [point[0] for point in points] == [0, 1, 2, 3, 4]  # the loaded group is generation 0
        assert [point[3] for point in points] == [1, 8, 8, 8, 8]
        assert all(best <= median for _, best, median, _ in points)
        scores = {row.group: row.score for row in metric.rank(conn, dataset=dataset, minimize=True)}
        assert points[0][1] == points[0][2] == scores[1]
        generation_2 = [group for (group,) in conn.execute("SELECT id FROM groups WHERE generation = 2")]
        assert points[2][1] == min(scores[group] for group in generation_2)
    assert plots.progress_series(conn, metric, datasets=["b"]).keys() == {"b"}
    maximized = plots.progress_series(conn, metric, minimize=False)["a"]
    assert all(best >= median for _, best, median, _ in maximized)


def test_params_writes_a_png(conn, tmp_path):
    output = tmp_path / "params.png"
    written = plots.params(conn, metrics.resolve("value"), output, top=6, minimize=True, dpi=50)
    assert written == str(output)
    assert_picture(output, 600, 300)


def test_params_of_a_single_group(conn, tmp_path):
    output = tmp_path / "one.png"
    plots.params(conn, metrics.resolve("value"), output, top=1, minimize=True, width=5, height=4, dpi=40)
    assert_picture(output, 200, 160)


def test_param_table_takes_the_overall_top_and_skips_choices(conn):
    metric = metrics.resolve("value")
    table = plots.param_table(conn, metric, top=5, minimize=True)
    overall = metrics.overall(conn, metric, ["a", "b"], minimize=True)
    assert table["groups"] == [(group, score) for group, score, _ in overall[:5]]
    assert table["names"] == ["flag_bool", "n_int", "x", "y"]  # mode_choice is not plotted
    assert table["total"] == 4
    for group, _ in table["groups"]:
        values = dict(zip(table["names"], table["values"][group]))
        stored = {name: value for name, value in conn.execute(
            "SELECT name, typed FROM params WHERE group_id = ?", (group,))}
        assert values["flag_bool"] == (1.0 if stored["flag_bool"] == "true" else 0.0)
        assert values["n_int"] == float(stored["n_int"]) and values["x"] == float(stored["x"])
    assert table["low"] == [min(v[i] for v in table["values"].values()) for i in range(4)]
    assert table["high"] == [max(v[i] for v in table["values"].values()) for i in range(4)]


def test_many_params_keep_the_forty_that_differ_most(load_text, db_path, tmp_path):
    # 50 more floats, which the objective ignores: only the breeder's mutations move them.
    extra = "".join(f"p{index:02d} = {index + 1}\n" for index in range(50))
    load_text(START + extra)
    conn = bred(db_path, generations=2, population=10)
    metric = metrics.resolve("value")
    table = plots.param_table(conn, metric, top=8, minimize=True)
    assert table["total"] == 54 and len(table["names"]) == plots.MAX_AXES
    assert table["names"] == sorted(table["names"])
    spreads = {name: plots._spread([v[table["names"].index(name)] for v in table["values"].values()])
               for name in table["names"]}
    everything = plots.param_table(conn, metric, top=8, minimize=True, max_axes=100)
    dropped = set(everything["names"]) - set(table["names"])
    assert len(dropped) == 14
    assert "flag_bool" in dropped  # booleans go first (see the next test)
    for name in dropped - {"flag_bool"}:
        column = [v[everything["names"].index(name)] for v in everything["values"].values()]
        assert plots._spread(column) <= min(spreads.values())
    output = tmp_path / "many.png"
    plots.params(conn, metric, output, top=8, minimize=True, dpi=60)
    assert_picture(output, 720, 360)
    conn.close()


def test_booleans_take_the_axes_left_after_the_numbers(load_text, db_path):
    """Two bools that differ have the largest spread there is: with 45 of them they filled every axis."""
    flags = "".join(f"f{index:02d}_bool = {'true' if index % 2 else 'false'}\n" for index in range(45))
    load_text(START + flags)
    conn = bred(db_path, generations=2, population=10)
    table = plots.param_table(conn, metrics.resolve("value"), top=8, minimize=True)
    numbers = [name for name in table["names"] if not name.endswith("_bool")]
    assert table["total"] == 49 and len(table["names"]) == plots.MAX_AXES and numbers == ["n_int", "x", "y"]
    conn.close()


def test_params_the_same_in_every_top_group_take_the_axes_last(load_text, db_path):
    """45 floats that no group changed, one that moves and a boolean that flips: the two that differ are shown."""
    same = "".join(f"same{index:02d} = 1.5\n" for index in range(45))
    for index in range(4):
        group = load_text(same + f"moving = {index + 1}.0\nflag_bool = {'true' if index % 2 else 'false'}\n")
        GeneticFuckery(dbfile=db_path, pid=group).record({"t": {"value": float(index)}}, dataset="a")
    conn = store.connect(db_path)
    table = plots.param_table(conn, metrics.resolve("value"), top=4)
    assert table["total"] == 47 and len(table["names"]) == plots.MAX_AXES
    assert {"moving", "flag_bool"} <= set(table["names"])
    conn.close()


def test_nothing_to_plot_names_the_metric(db_path, tmp_path):
    conn = store.connect(db_path)
    for plot in (plots.progress, plots.params):
        with pytest.raises(InputError, match=r"^nothing to plot: no run is scored by metric 'value'"):
            plot(conn, metrics.resolve("value"), tmp_path / "empty.png")
    conn.close()


def test_unknown_result_bad_top_and_unwritable_output(conn, tmp_path):
    for plot in (plots.progress, plots.params):
        with pytest.raises(InputError, match=r"metric 'profit' on a, b; results recorded: score.value$"):
            plot(conn, metrics.resolve("profit"), tmp_path / "empty.png")
    assert not (tmp_path / "empty.png").exists()
    with pytest.raises(InputError, match="--top must be at least 1"):
        plots.params(conn, metrics.resolve("value"), tmp_path / "empty.png", top=0)
    with pytest.raises(InputError, match="cannot write the plot"):
        plots.progress(conn, metrics.resolve("value"), tmp_path / "no" / "such" / "dir.png", dpi=20)


def test_only_choice_params(load_text, db_path, tmp_path):
    load_text('mode_choice = ["slow", "fast"]\n')
    GeneticFuckery(dbfile=db_path).evolve(lambda params, dataset: {"score": {"value": 1}}, metric="value",
                                          generations=0, population=2, datasets=["a"])
    conn = store.connect(db_path)
    with pytest.raises(InputError, match="have no numeric parameter"):
        plots.params(conn, metrics.resolve("value"), tmp_path / "choice.png")
    plots.progress(conn, metrics.resolve("value"), tmp_path / "one-point.png", dpi=40)  # one group
    assert_picture(tmp_path / "one-point.png", 400, 240)
    conn.close()


def test_without_matplotlib(conn, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    for plot in (plots.progress, plots.params):
        with pytest.raises(plots.MissingExtra) as caught:
            plot(conn, metrics.resolve("value"), tmp_path / "never.png")
        assert str(caught.value) == "plots need matplotlib (the [plot] extra): pip install matplotlib"
        assert isinstance(caught.value, GfError) and caught.value.exit_code == 1
    assert not (tmp_path / "never.png").exists()


def test_import_gf_does_not_import_matplotlib():
    code = "import sys, gf, gf.cli, gf.plots; assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_sql_metric_plots_the_same_series(conn, tmp_path):
    query = tmp_path / "value.sql"
    query.write_text("SELECT r.id AS run, res.value AS score FROM runs r JOIN results res ON res.run = r.id "
                     "WHERE r.status = 'ok' AND r.dataset = :dataset AND res.name = 'value' ORDER BY score")
    by_sql = metrics.resolve(sql_file=query)
    assert plots.progress_series(conn, by_sql, minimize=True) == plots.progress_series(
        conn, metrics.resolve("value"), minimize=True)
    assert plots.param_table(conn, by_sql, top=3, minimize=True)["groups"] == plots.param_table(
        conn, metrics.resolve("value"), top=3, minimize=True)["groups"]


def test_gf_plot_commands_write_pngs(bred_db, tmp_path, run_gf):
    progress_png, params_png = tmp_path / "progress.png", tmp_path / "params.png"
    result = run_gf("plot", "progress", "--db", bred_db, "--metric", "value", "--minimize", "-o", progress_png)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{progress_png}\n"
    assert_picture(progress_png, 1000, 600)
    result = run_gf("plot", "params", "--db", bred_db, "--top", "5", "-o", params_png)  # metric of the last loop
    assert result.exit_code == 0, result.stderr
    assert_picture(params_png, 1200, 600)


def test_the_output_extension_picks_svg_or_pdf_and_any_other_is_refused(conn, tmp_path):
    metric = metrics.resolve("value")
    svg = plots.progress(conn, metric, tmp_path / "p.svg", minimize=True)
    text = open(svg, encoding="utf-8").read()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and text.rstrip().endswith("</svg>")
    pdf = plots.params(conn, metric, tmp_path / "q.PDF", minimize=True)
    assert open(pdf, "rb").read(5) == b"%PDF-"
    with pytest.raises(InputError, match=r"p\.jpg: a plot is written as \.png, \.svg, \.pdf; end the file name"):
        plots.progress(conn, metric, tmp_path / "p.jpg", minimize=True)
    assert not (tmp_path / "p.jpg").exists()


def drawn_figures(monkeypatch):
    """The matplotlib figures the plots draw, captured as they are saved (the files are written too)."""
    figures = []
    save = plots._save

    def capturing(figure, canvas_class, output):
        figures.append(figure)
        return save(figure, canvas_class, output)

    monkeypatch.setattr(plots, "_save", capturing)
    return figures


def test_a_param_every_group_shares_has_its_value_on_its_line(conn, tmp_path, monkeypatch):
    """Its line is drawn at 0.5; its one value was written at 0, below the axes' data."""
    figures = drawn_figures(monkeypatch)
    plots.params(conn, metrics.resolve("value"), tmp_path / "one.png", top=1, minimize=True, dpi=40)
    axes = figures[0].axes[0]  # the next is the colour bar
    labels = [text.xy[1] for text in axes.texts]
    assert labels and set(labels) == {0.5}


def test_many_datasets_each_get_a_colour_and_a_legend_entry_inside_the_picture(db_path, tmp_path, monkeypatch):
    (tmp_path / "start.js").write_text(START)
    assert CliRunner().invoke(cli, ["load", "--db", db_path, str(tmp_path / "start.js")]).exit_code == 0
    datasets = [f"ds{index:02d}" for index in range(60)]
    bred(db_path, generations=1, population=2, datasets=datasets).close()
    figures = drawn_figures(monkeypatch)
    output = tmp_path / "many.png"
    with store.connect(db_path) as connection:
        plots.progress(connection, metrics.resolve("value"), output, minimize=True)
    assert_picture(output, 1000, 600)
    figure = figures[0]
    [axes] = figure.axes
    legend = axes.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == datasets + ["best", "median"]
    colours = {line.get_color() if isinstance(line.get_color(), str) else tuple(line.get_color())
               for line in axes.get_lines()}
    assert len(colours) == 60
    renderer = figure.canvas.get_renderer()
    box, page = legend.get_window_extent(renderer), figure.bbox
    assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1
    assert not box.overlaps(axes.get_window_extent(renderer))
    title = figure.get_suptitle()  # over the whole figure, not cut off over the narrowed axes
    assert title.startswith("value per generation") and axes.get_title() == ""
    heading = figure._suptitle.get_window_extent(renderer)
    assert page.x0 <= heading.x0 and heading.x1 <= page.x1


def test_scores_near_the_largest_float_are_drawn_in_units_of_a_power_of_ten(load_text, db_path, tmp_path, gf_process):
    """matplotlib's ticks overflow on values near the largest float, and the median of two such scores
    added them first: both plots draw them divided by a power of ten, and say so."""
    load_text("x = 1\ny = 2\n")
    load_text("x = 3\ny = 4\n")
    for group, loss in ((1, 1e308), (2, 1.5e308)):
        GeneticFuckery(dbfile=db_path, pid=group).record({"algo": {"loss": loss}}, dataset="a")
    conn = store.connect(db_path, create=False)
    assert plots.progress_series(conn, metrics.resolve("loss")) == {"a": [(0, 1.5e308, 1.25e308, 2)]}
    conn.close()
    for kind in ("progress", "params"):
        output = tmp_path / f"{kind}.png"
        drawn = gf_process("plot", kind, "--db", db_path, "--metric", "loss", "-o", output)
        assert drawn.returncode == 0, drawn.stderr
        assert drawn.stdout == f"{output}\n"
        assert output.read_bytes().startswith(PNG_SIGNATURE)


def test_progress_of_one_loop_leaves_the_others_out(tmp_path):
    """Two loops' generation N were pooled into one point (a blown-up generation of one looked like
    everyone's): --loop picks one, with the loaded groups as generation 0; an unknown loop is refused."""
    path = tmp_path / "two.db"
    (tmp_path / "start.js").write_text(START)
    runner = CliRunner()
    assert runner.invoke(cli, ["load", "--db", str(path), str(tmp_path / "start.js")]).exit_code == 0
    for seed in (1, 2):  # another seed: another loop
        GeneticFuckery(dbfile=str(path)).evolve(objective, metric="value", minimize=True, generations=2,
                                                population=6, datasets=["a"], seed=seed)
    conn = store.connect(str(path))
    assert [row[0] for row in conn.execute("SELECT id FROM loops")] == [1, 2]
    metric = metrics.resolve("value")
    pooled = plots.progress_series(conn, metric, minimize=True)["a"]
    assert [(point[0], point[3]) for point in pooled] == [(0, 1), (1, 12), (2, 12)]
    for loop in (1, 2):
        own = {group for (group,) in conn.execute("SELECT id FROM groups WHERE loop_id = ?", (loop,))}
        scores = {row.group: row.score for row in metric.rank(conn, dataset="a", minimize=True) if row.group in own}
        points = plots.progress_series(conn, metric, minimize=True, loop=loop)["a"]
        assert [(point[0], point[3]) for point in points] == [(0, 1), (1, 6), (2, 6)]
        assert min(point[1] for point in points[1:]) == min(scores.values())
    output = tmp_path / "loop2.png"
    result = runner.invoke(cli, ["plot", "progress", "--db", str(path), "--loop", "2", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert_picture(output, 1000, 600)
    missing = runner.invoke(cli, ["plot", "progress", "--db", str(path), "--loop", "3", "-o", str(tmp_path / "x.png")])
    assert missing.exit_code == 2 and missing.stderr == (
        f"error: --loop 3: {path} has no such breed loop; loops: 1, 2 (see `gf loops`)\n")
    # a later loop bred the other way, and a group loaded since: loop 1 is still shown its own way, without it
    GeneticFuckery(dbfile=str(path)).evolve(objective, metric="value", minimize=False, generations=1, population=6,
                                            datasets=["a"], seed=3)
    (tmp_path / "late.js").write_text(START.replace("x = -4", "x = 0.5"))
    loaded = runner.invoke(cli, ["load", "--db", str(path), str(tmp_path / "late.js")])
    with GeneticFuckery(dbfile=str(path), pid=int(loaded.stdout), dataset="a") as late:
        late.record({"score": {"value": 0.25}})
    from gf import reports

    assert reports.choose_metric(conn, None, None, None, str(path))[1] is False  # the newest loop's way
    assert reports.choose_metric(conn, None, None, None, str(path), loop_id=1)[1] is True
    assert plots.progress_series(conn, metric, minimize=True)["a"][0][3] == 2  # pooled: both loaded groups
    assert plots.progress_series(conn, metric, minimize=True, loop=1)["a"][0][3] == 1  # not the one loaded later
    assert not (tmp_path / "x.png").exists()
    conn.close()
