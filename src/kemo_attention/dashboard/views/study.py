"""Study page: a study folder's results per label, CV and protocol, as the report words them.

The tables and sentences come from ``study.report`` (the same functions build report.html),
so the page and the report cannot disagree; the page adds choices (label, CV, protocol),
the full comparison table, and an interactive reliability chart.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from kemo_attention.dashboard import cache
from kemo_attention.dashboard.config import DashboardConfig
from kemo_attention.study.read import CV_NAMES, PROTOCOL_NAMES, StudyFolder, ordered_models
from kemo_attention.study.report import model_table, omnibus_lines, summary_tables, tuning_summary
from kemo_attention.study.report_format import fmt_interval, fmt_number, fmt_p, fmt_signed, table_frame

STUDY_HINT = "Start the dashboard with `--study DIR`, the folder `kemo-attention study --out` wrote."


def render(cfg: DashboardConfig) -> None:
    st.header("Study")
    study = _study_or_stop(cfg)
    if study is None:
        return
    _run_caption(study)
    _summary(study)
    labels = study.labels()
    label = st.selectbox("Label", labels, key="study_label")
    cvs = study.cvs(label)
    left, right = st.columns(2)
    cv = left.selectbox("Cross-validation", cvs, key="study_cv", format_func=lambda c: f"{c} ({CV_NAMES.get(c, c)})")
    protocols = study.protocols(label, cv)
    protocol = right.selectbox("Protocol", protocols, key="study_protocol")
    _leaderboard(study, label, cv, protocol)
    _comparisons(study, label, cv, protocol)
    _omnibus(study, label, cv, protocol)
    _calibration(study, label, cv)
    _personalization(study, label, cv)
    _tuning(study, label, cv)
    _report(study)


def _study_or_stop(cfg: DashboardConfig) -> StudyFolder | None:
    if cfg.study is None:
        st.info("No study folder was given. " + STUDY_HINT)
        return None
    if not cfg.study.is_dir():
        st.error(f"The study folder `{cfg.study}` does not exist (any more). " + STUDY_HINT)
        return None
    study = cache.study_folder(cfg.study)
    if study.problems:
        with st.expander(f"{len(study.problems)} file(s) of the study folder not read"):
            st.markdown("\n".join(f"- `{name}`: {why}" for name, why in sorted(study.problems.items())))
    if study.get("summary") is None or study.get("summary").empty:
        st.warning(f"`{cfg.study}` has no readable `summary.csv` ({study.problems.get('summary.csv', 'no rows')}): nothing to show.")
        return None
    return study


def _run_caption(study: StudyFolder) -> None:
    summary = study.get("summary")
    bits = [f"labels **{', '.join(study.labels())}**", f"CV **{', '.join(dict.fromkeys(summary['cv']))}**",
            f"protocols **{', '.join(dict.fromkeys(summary['protocol']))}**", f"{summary['model'].nunique()} models"]
    st.caption(" · ".join(bits) + f" · folder `{study.path}`")
    if study.manifest.get("complete") is not True:
        st.warning("The manifest does not say this study is complete: tables may be partial.")


def _summary(study: StudyFolder) -> None:
    st.subheader("Summary across labels")
    tables = summary_tables(study)
    choices = [f"{cv} · {protocol}" for cv, protocol, _ in tables]
    chosen = st.selectbox("CV · protocol", choices, key="study_summary") if len(choices) > 1 else choices[0]
    table = tables[choices.index(chosen)][2]
    # Models down, labels across: six labels fit a 1000 px window, ten models would not.
    st.table(table_frame(table).T)
    best = {" ".join(row[0].lines): next((table.columns[i] for i, c in enumerate(row) if i and c.bold), "n/a") for row in table.rows}
    st.caption("ROC AUC mean [95 % CI], then macro F1. Best by mean ROC AUC: "
               + "; ".join(f"{label} **{model}**" for label, model in best.items()) + ".")


def _leaderboard(study: StudyFolder, label: str, cv: str, protocol: str) -> None:
    st.subheader(f"{label} · {cv} · {protocol}")
    table = model_table(study, label, cv, protocol)
    st.table(table_frame(table))
    # (the report's caption speaks of bold cells, which st.table does not show)
    st.caption("Mean [95 % CI] over the test units. The p columns compare ROC AUC with the dummy and with the best model "
               "(marked **best**, by mean ROC AUC), Holm-adjusted; Δ is the mean difference. "
               f"Protocol {PROTOCOL_NAMES.get(protocol, protocol)}.")


def _comparisons(study: StudyFolder, label: str, cv: str, protocol: str) -> None:
    rows = study.rows("comparisons", label=label, cv=cv, protocol=protocol)
    with st.expander(f"All pairwise comparisons ({len(rows)})"):
        if rows.empty:
            st.info("`comparisons.csv` has no rows for this label, CV and protocol.")
            return
        view = pd.DataFrame({
            "metric": rows["metric"].to_numpy(), "versus": rows["versus"].to_numpy(), "role": rows["role"].to_numpy(),
            "Δ [95 % CI]": [f"{fmt_signed(d)} {fmt_interval(lo, hi, signed=True)}"
                            for d, lo, hi in zip(rows["mean_difference"], rows["ci_low"], rows["ci_high"])],
            "p": [fmt_p(p) for p in rows["p_value"]], "p (Holm)": [fmt_p(p) for p in rows["p_holm"]],
            "test": rows["test"].to_numpy(),
        }, index=pd.Index(rows["model"], name="model"))
        # st.table, not st.dataframe: it wraps in a narrow column, and it is drawn even while the expander is closed.
        st.table(view)
        st.caption("Δ: mean difference (model minus versus); significant when p (Holm) < 0.05.")


def _omnibus(study: StudyFolder, label: str, cv: str, protocol: str) -> None:
    st.subheader("Across all models")
    lines = omnibus_lines(study, label, cv, protocol)
    if lines:
        st.markdown("\n".join(f"- {line}" for line in lines))
    else:
        st.info("No omnibus test for this protocol (`omnibus.csv` has no rows for it).")
    plots = study.cd_plots(label, cv)
    if plots:
        for path in plots:
            st.image(str(path), caption=f"Critical-difference diagram: {path.name}")
    else:
        st.caption(f"No critical-difference diagram (`plots/{label}/cd_{cv}_*.png`).")


def _calibration(study: StudyFolder, label: str, cv: str) -> None:
    st.subheader("Calibration")
    calibration = study.rows("calibration", label=label, cv=cv)
    if calibration.empty:
        st.info("`calibration.csv` has no rows for this label and CV.")
    else:
        wide = calibration.pivot_table(index="model", columns="variant", values="ece", aggfunc="first")
        wide = wide.reindex(ordered_models(wide.index))
        variants = [v for v in ("raw", "sigmoid", "isotonic") if v in wide.columns] + [v for v in wide.columns if v not in ("raw", "sigmoid", "isotonic")]
        st.table(wide[variants].map(fmt_number).rename(columns=lambda v: f"ECE {v}"))
        st.caption("Expected calibration error (10 equal-width bins) of the raw probabilities and after each calibration method.")
    rows = study.rows("reliability", label=label, cv=cv)
    rows = rows[pd.to_numeric(rows["n"], errors="coerce").fillna(0) > 0]
    if rows.empty:
        return
    models = ordered_models(rows["model"])
    lines = alt.Chart().mark_line(point=True).encode(
        x=alt.X("mean_predicted:Q", title="mean predicted P(1)", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("fraction_positive:Q", title="fraction of 1s", scale=alt.Scale(domain=[0, 1])),
        # the report's colours: raw dark, sigmoid blue, isotonic red
        color=alt.Color("variant:N", title=None, legend=alt.Legend(orient="bottom"),
                        scale=alt.Scale(domain=["raw", "sigmoid", "isotonic"], range=["#1d2430", "#1f77b4", "#d62728"])),
        tooltip=["model", "variant", "bin", "n", alt.Tooltip("mean_predicted:Q", format=".3f"), alt.Tooltip("fraction_positive:Q", format=".3f")],
    )
    diagonal = alt.Chart().mark_rule(color="gray", strokeDash=[4, 4]).encode(
        x=alt.datum(0), y=alt.datum(0), x2=alt.datum(1), y2=alt.datum(1))
    # Two small panels a row: the main column is ~540 px in a 1000 px window (the sidebar takes the rest).
    chart = alt.layer(diagonal, lines, data=rows).properties(width=180, height=160).facet(
        facet=alt.Facet("model:N", sort=models, title=None), columns=2)
    st.altair_chart(chart)
    st.caption("Reliability: per bin of predicted probability, the share of 1s; on the dashed diagonal the probabilities mean what they say.")


def _personalization(study: StudyFolder, label: str, cv: str) -> None:
    rows = study.rows("personalization", label=label, cv=cv)
    if rows.empty:
        return
    st.subheader("Personalization")
    rows = rows.set_index("model").reindex(ordered_models(rows["model"])).reset_index()
    view = pd.DataFrame({
        "metric": rows["metric"].to_numpy(),
        "population": [fmt_number(v) for v in rows["population_mean"]],
        "hybrid": [fmt_number(v) for v in rows["hybrid_mean"]],
        "gain [95 % CI]": [f"{fmt_signed(g)} {fmt_interval(lo, hi, signed=True)}" for g, lo, hi in zip(rows["gain"], rows["ci_low"], rows["ci_high"])],
        "p": [fmt_p(p) for p in rows["p_value"]],
        "scored / excluded": [f"{int(s)} / {int(e)}" for s, e in zip(rows["participants_scored"], rows["participants_excluded"])],
    }, index=pd.Index(rows["model"], name="model"))
    st.table(view)
    first = rows.iloc[0]
    st.caption(f"Hybrid: each test participant's first {int(first['personal_labels'])} labelled prompts join training; both protocols "
               f"are scored on the same later prompts. Test: {first['test']}. Participants with too few prompts are excluded.")


def _tuning(study: StudyFolder, label: str, cv: str) -> None:
    rows = study.rows("tuning", label=label, cv=cv)
    if rows.empty:
        return
    st.subheader("Tuning")
    summary = tuning_summary(rows)
    view = pd.DataFrame([{"folds": folds, "trials": trials, "inner score": score, "chosen parameters": "; ".join(lines)}
                         for _model, folds, trials, score, lines in summary], index=pd.Index([s[0] for s in summary], name="model"))
    st.table(view)
    st.caption("Chosen in each outer training fold on inner participant-grouped folds: median (range) over folds; the most chosen value for categories.")


def _report(study: StudyFolder) -> None:
    st.subheader("Report")
    report = study.path / "report.html"
    summary = study.path / "summary.md"
    if not report.is_file():
        st.info("No `report.html` in the study folder yet: the study writes it at its end (`kemo_attention.study.report.write_report`).")
        return
    st.download_button("Download report.html (self-contained, opens offline)", report.read_bytes(), file_name="report.html",
                       mime="text/html", key="study_report_download")
    if summary.is_file():
        with st.expander("summary.md (the report in Markdown)"):
            st.code(summary.read_text(encoding="utf-8"), language="markdown")
