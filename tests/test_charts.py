import math

from graphchurn.app import charts


def test_nice_ticks_hand_computed():
    # 0..0.83 in about 5 steps: 0.83 / 5 = 0.166, rounded up to the step 0.2; the ticks cover 0.83
    assert charts.nice_ticks(0, 0.83) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    # 0..3.2: 0.64 rounds up to 1 (0.5 would make 7 intervals)
    assert charts.nice_ticks(0, 3.2) == [0.0, 1.0, 2.0, 3.0, 4.0]
    # 0.004..0.021: 0.0034 rounds up to 0.005, from the multiple at or below 0.004
    assert charts.nice_ticks(0.004, 0.021) == [0.0, 0.005, 0.01, 0.015, 0.02, 0.025]
    assert charts.nice_ticks(2, 2) == charts.nice_ticks(2, 3)  # an empty range is widened
    assert charts.linear_axis(0, 0.83).labels == ("0.0", "0.2", "0.4", "0.6", "0.8", "1.0")
    # 12,000 / 5 = 2,400 rounds up to 2,500
    assert charts.linear_axis(0, 12_000).labels == ("0", "2,500", "5,000", "7,500", "10,000", "12,500")


def test_log_ticks_hand_computed():
    assert charts.log_ticks(1, 5000) == [1.0, 10.0, 100.0, 1000.0, 10000.0]
    assert charts.log_ticks(0.5, 1000) == [1.0, 10.0, 100.0, 1000.0]  # 1000 is a power of ten: no 10,000
    axis = charts.log_axis(0.5, 5000)
    assert axis.log and axis.labels == ("1", "10", "100", "1,000", "10,000")
    # a log axis puts 10 half-way between 1 and 100
    panel = charts.place(charts.linear_axis(0, 1), charts.log_axis(1, 100), height=200)
    assert math.isclose(panel.py(10), (panel.py(1) + panel.py(100)) / 2)


def test_parts_skip_non_finite_values_and_escape_text():
    p = charts.place(charts.category_axis(["a", "b", "c"]), charts.linear_axis(0, 3))
    assert charts.vbars(p, [0, 1, 2], [1.0, float("nan"), float("inf")]).count("<rect") == 1
    # a line breaks at a missing point: two pieces, three markers
    drawn = charts.line(p, [0, 1, 2, 3], [1.0, 2.0, float("nan"), 1.5], markers=True)
    assert drawn.count("<path") == 1 and drawn.count("<circle") == 3
    drawn = charts.line(p, [0, 1, 2, 3, 4], [1.0, 2.0, float("nan"), 1.5, 2.5])
    assert drawn.count("<path") == 2
    assert charts.points(p, [0, 1], [float("inf"), 1.0], [3, 4]).count("<circle") == 1
    assert charts.text(p, float("nan"), 1.0, "x") == ""
    label = charts.text(p, 0, 1, "<b>&</b>")
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in label and "<b>" not in label
    chart = charts.svg([charts.frame(p, title="<t>")], width=100, height=80, label='a "quoted" <chart>')
    assert chart.startswith('<svg role="img" aria-label="a &quot;quoted&quot; &lt;chart&gt;"')
    assert "&lt;t&gt;" in chart and "xmlns" not in chart
