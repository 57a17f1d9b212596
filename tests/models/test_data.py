"""Tests for models.data and models.survey: good files, Parquet = CSV, and every bad-data case."""

from pathlib import Path

import pandas as pd
import pytest

from models.data import load_customers, load_events, load_responses
from models.survey import convert_survey
from sim.inputs.errors import InputError
from sim.inputs.load import load_world

BAD = Path(__file__).parent / "data_bad"

CUSTOMERS = """customer_id,segment,start,end,region
C1,household,2024-01-01,,north
C2,enterprise,2023-05-01,2024-02-01,
C3,small_business,2024-03-15,2024-03-15,south
"""
RESPONSES = """customer_id,date,invoice,call_centre,app,nps,self_class
C1,2024-02-01,5,,4,9,Loyal
C2,2024-02-02,1,2,,0,dissatisfied
C1,2024-03-01,,,,,
"""
EVENTS = """customer_id,touchpoint,timestamp
C2,invoice,2024-02-01 10:00:00
C1,app,2024-01-05 09:30:00
C1,installer,2024-01-02 08:00:00
"""


@pytest.fixture(scope="module")
def world():
    return load_world("demo")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def first_line(error: pytest.ExceptionInfo) -> str:
    return error.value.lines()[0]


# Good files ---------------------------------------------------------------------------------


def test_customers_dtypes_and_values(tmp_path, world):
    frame = load_customers(write(tmp_path, "customers.csv", CUSTOMERS), world)
    assert list(frame.columns) == ["customer_id", "segment", "start", "end", "region"]
    assert frame["customer_id"].dtype == "str"
    assert isinstance(frame["segment"].dtype, pd.CategoricalDtype)
    assert list(frame["segment"].cat.categories) == world.segment_ids
    assert frame["start"].dtype == frame["end"].dtype == "datetime64[us]"
    assert list(frame["customer_id"]) == ["C1", "C2", "C3"]
    assert list(frame["segment"]) == ["household", "enterprise", "small_business"]
    assert frame.loc[1, "start"] == pd.Timestamp("2023-05-01")
    assert pd.isna(frame.loc[0, "end"]) and frame.loc[1, "end"] == pd.Timestamp("2024-02-01")
    assert list(frame["region"]) == ["north", "", "south"]


def test_responses_dtypes_and_values(tmp_path, world):
    frame = load_responses(write(tmp_path, "responses.csv", RESPONSES), world)
    # rating columns in the world's order, then nps and self_class
    assert list(frame.columns) == [
        "customer_id", "date", "app", "invoice", "call_centre", "nps", "self_class",
    ]  # fmt: skip
    for column in ("app", "invoice", "call_centre", "nps"):
        assert frame[column].dtype == "Int8"
    assert frame["customer_id"].dtype == "str" and frame["date"].dtype.kind == "M"
    assert frame["self_class"].dtype == pd.CategoricalDtype(
        ["dissatisfied", "satisfied", "loyal", "advocate"], ordered=True
    )
    assert frame["invoice"].tolist() == [5, 1, pd.NA]
    assert frame["call_centre"].tolist() == [pd.NA, 2, pd.NA]
    assert frame["nps"].tolist() == [9, 0, pd.NA]
    assert frame["self_class"].tolist()[:2] == ["loyal", "dissatisfied"]
    assert pd.isna(frame.loc[2, "self_class"])
    assert frame.loc[1, "date"] == pd.Timestamp("2024-02-02")


def test_responses_known_customers_pass(tmp_path, world):
    customers = load_customers(write(tmp_path, "customers.csv", CUSTOMERS), world)
    frame = load_responses(write(tmp_path, "responses.csv", RESPONSES), world, customers)
    assert len(frame) == 3


def test_events_sorted_by_customer_then_time(tmp_path, world):
    frame = load_events(write(tmp_path, "events.csv", EVENTS), world)
    assert list(frame.columns) == ["customer_id", "touchpoint", "timestamp"]
    assert frame["customer_id"].tolist() == ["C1", "C1", "C2"]
    assert frame["touchpoint"].tolist() == ["installer", "app", "invoice"]
    assert list(frame["touchpoint"].cat.categories) == world.touchpoint_ids
    assert frame["timestamp"].dtype.kind == "M"
    assert frame.loc[0, "timestamp"] == pd.Timestamp("2024-01-02 08:00:00")


def test_events_from_process_mining_columns(tmp_path, world):
    text = "case_id,activity,time,resource\nK1,call_centre,2024-01-01T10:00:00+02:00,ann\n"
    path = write(tmp_path, "log.csv", text)
    frame = load_events(path, world, case="case_id", activity="activity", timestamp="time")
    assert list(frame.columns) == ["customer_id", "touchpoint", "timestamp"]
    assert frame.loc[0, "timestamp"] == pd.Timestamp("2024-01-01 08:00:00")  # UTC


def test_spaces_bom_and_blank_rows_are_tolerated(tmp_path, world):
    text = "\ufeffcustomer_id , segment,start,end\n C1 ,household , 2024-01-01,\n,,,\n\n"
    frame = load_customers(write(tmp_path, "customers.csv", text), world)
    assert frame["end"].dtype == "datetime64[us]"  # even with no end at all
    assert frame["customer_id"].tolist() == ["C1"] and frame["segment"].tolist() == ["household"]


def test_blank_rows_keep_row_numbers(tmp_path, world):
    text = "customer_id,segment,start,end\nC1,household,2024-01-01,\n,,,\nC2,nowhere,2024-01-01,\n"
    with pytest.raises(InputError) as error:
        load_customers(write(tmp_path, "customers.csv", text), world)
    assert "row 3, column segment" in first_line(error)


# Parquet ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, text, load",
    [
        ("customers", CUSTOMERS, load_customers),
        ("responses", RESPONSES, load_responses),
        ("events", EVENTS, load_events),
    ],
)
def test_parquet_gives_the_same_frame_as_csv(tmp_path, world, name, text, load):
    csv = write(tmp_path, f"{name}.csv", text)
    expected = load(csv, world)
    # a typed Parquet file as another tool would write it: ints, floats with NaN, strings
    typed = tmp_path / f"{name}_typed.parquet"
    pd.read_csv(csv).to_parquet(typed)
    pd.testing.assert_frame_equal(load(typed, world), expected)
    # and the loaded frame itself written back: categoricals, Int8, datetimes
    again = tmp_path / f"{name}_loaded.parquet"
    expected.to_parquet(again)
    pd.testing.assert_frame_equal(load(again, world), expected)


def test_parquet_with_customer_id_as_index(tmp_path, world):
    expected = load_customers(write(tmp_path, "customers.csv", CUSTOMERS), world)
    path = tmp_path / "customers.parquet"
    expected.set_index("customer_id").to_parquet(path)
    pd.testing.assert_frame_equal(load_customers(path, world), expected)


def test_parquet_bad_cell_named_like_csv(tmp_path, world):
    path = tmp_path / "responses.parquet"
    typed = {"customer_id": ["C1", "C2"], "date": ["2024-01-01"] * 2, "app": [4, 9]}
    pd.DataFrame(typed).to_parquet(path)
    with pytest.raises(InputError) as error:
        load_responses(path, world)
    assert first_line(error) == (
        f"{path}: row 2, column app: rating 9, expected an integer 1..5 or empty"
    )


# Bad cells ----------------------------------------------------------------------------------

HEAD_C = "customer_id,segment,start,end\n"
HEAD_R = "customer_id,date,invoice\n"
HEAD_E = "customer_id,touchpoint,timestamp\n"
OK_C = "C1,household,2024-01-01,\n"
OK_R = "C1,2024-01-01,4\n"
OK_E = "C1,app,2024-01-01 10:00\n"

BAD_CELLS = [  # (loader, file text, where, key phrase)
    ("customers", HEAD_C + OK_C + "C2,housold,2024-01-01,\n", "row 2, column segment",
     "unknown segment 'housold', expected one of household, small_business, enterprise"),
    ("customers", HEAD_C + OK_C + ",household,2024-01-01,\n", "row 2, column customer_id",
     "empty, expected a customer id"),
    ("customers", HEAD_C + OK_C + OK_C, "row 2, column customer_id",
     "customer id 'C1' appears again (first in row 1)"),
    ("customers", HEAD_C + OK_C + "C2,household,2024-03-01,2024-02-01\n", "row 2, column end",
     "end '2024-02-01' is before start '2024-03-01'"),
    ("customers", HEAD_C + "C1,household,31/01/2024,\n", "row 1, column start",
     "date '31/01/2024' cannot be read, expected a date YYYY-MM-DD"),
    ("customers", HEAD_C + "C1,household,2024-02-30,\n", "row 1, column start",
     "cannot be read"),
    ("customers", HEAD_C + "C1,household,,\n", "row 1, column start",
     "empty, expected a date"),
    ("customers", HEAD_C + "C1,household,2024-01-01,soon\n", "row 1, column end",
     "date 'soon' cannot be read"),
    ("responses", HEAD_R + OK_R + OK_R + "C3,2024-01-01,7\n", "row 3, column invoice",
     "rating 7, expected an integer 1..5 or empty"),
    ("responses", HEAD_R + "C1,2024-01-01,4.5\n", "row 1, column invoice",
     "rating 4.5, expected an integer 1..5"),
    ("responses", HEAD_R + "C1,2024-01-01,good\n", "row 1, column invoice",
     "rating 'good', expected an integer 1..5"),
    ("responses", HEAD_R + "C1,2024-01-01,0\n", "row 1, column invoice",
     "expected an integer 1..5"),
    ("responses", "customer_id,date,nps\nC1,2024-01-01,11\n", "row 1, column nps",
     "NPS 11, expected an integer 0..10 or empty"),
    ("responses", "customer_id,date,self_class\nC1,2024-01-01,happy\n", "row 1, column self_class",
     "unknown class 'happy', expected dissatisfied, satisfied, loyal, advocate"),
    ("responses", HEAD_R + "C1,yesterday,4\n", "row 1, column date", "cannot be read"),
    ("responses", "customer_id,date,invoice,invoise\nC1,2024-01-01,4,4\n", "column invoise",
     "unknown touchpoint 'invoise', expected a touchpoint id"),
    ("events", HEAD_E + OK_E + "C1,webshop,2024-01-01 11:00\n", "row 2, column touchpoint",
     "unknown touchpoint 'webshop', expected one of tv_ad"),
    ("events", HEAD_E + "C1,app,noon\n", "row 1, column timestamp",
     "time 'noon' cannot be read, expected a time YYYY-MM-DD HH:MM:SS"),
    ("customers", "customer_id,segment,start\n" + "C1,household,2024-01-01\n", "columns",
     "missing end; expected columns customer_id, segment, start, end"),
    ("responses", "customer,date,invoice\nC1,2024-01-01,4\n", "columns",
     "missing customer_id; expected columns customer_id, date"),
    ("events", "customer_id,touchpoint\nC1,app\n", "columns", "missing timestamp"),
]  # fmt: skip
LOADERS = {"customers": load_customers, "responses": load_responses, "events": load_events}


@pytest.mark.parametrize("table, text, where, phrase", BAD_CELLS)
def test_bad_cell_names_file_row_column(tmp_path, world, table, text, where, phrase):
    path = write(tmp_path, f"{table}.csv", text)
    with pytest.raises(InputError) as error:
        LOADERS[table](path, world)
    assert error.value.source == str(path)
    line = first_line(error)
    assert line.startswith(f"{path}: {where}: "), line
    assert phrase in line


def test_response_from_unknown_customer(tmp_path, world):
    customers = load_customers(write(tmp_path, "customers.csv", CUSTOMERS), world)
    path = write(tmp_path, "responses.csv", HEAD_R + OK_R + "C9,2024-01-01,4\n")
    with pytest.raises(InputError) as error:
        load_responses(path, world, customers=customers)
    assert first_line(error) == (
        f"{path}: row 2, column customer_id: customer 'C9' is not in the customers table,"
        " expected a known id"
    )


def test_events_problem_names_the_source_column(tmp_path, world):
    path = write(tmp_path, "log.csv", "case_id,activity,timestamp\nK1,dance,2024-01-01\n")
    with pytest.raises(InputError) as error:
        load_events(path, world, case="case_id", activity="activity")
    assert "row 1, column activity: unknown touchpoint 'dance'" in first_line(error)
    missing = write(tmp_path, "log2.csv", "case,activity,timestamp\nK1,app,2024-01-01\n")
    with pytest.raises(InputError, match="missing case_id; expected columns case_id, activity"):
        load_events(missing, world, case="case_id", activity="activity")


def test_all_problems_listed_in_row_order(tmp_path, world):
    text = HEAD_C + "C1,nowhere,2024-01-01,\nC2,household,bad,\nC1,household,2024-01-01,\n"
    with pytest.raises(InputError) as error:
        load_customers(write(tmp_path, "customers.csv", text), world)
    wheres = [where for where, _ in error.value.problems]
    assert wheres == ["row 1, column segment", "row 2, column start", "row 3, column customer_id"]


def test_problems_capped_at_twenty(tmp_path, world):
    text = HEAD_R + "".join(f"C{i},2024-01-01,9\n" for i in range(25))
    with pytest.raises(InputError) as error:
        load_responses(write(tmp_path, "responses.csv", text), world)
    problems = error.value.problems
    assert len(problems) == 21
    assert problems[19][0] == "row 20, column invoice"
    assert problems[20] == ("", "... and 5 more problems")
    assert error.value.lines()[-1].endswith("responses.csv: ... and 5 more problems")


# Bad files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, where, phrase",
    [
        ("customers.csv", b"", "", "the file is empty"),
        ("customers.csv", b"\n\n", "", "the file is empty"),
        ("customers.csv", HEAD_C.encode(), "", "no data rows below the header"),
        ("customers.csv", (HEAD_C + ",,,\n").encode(), "", "no data rows below the header"),
        ("customers.parquet", b"", "", "the file is empty"),
        ("customers.xlsx", b"PK", "", "unsupported file type '.xlsx', expected .csv or .parquet"),
        ("customers", b"x", "", "unsupported file type '(none)'"),
        ("customers.csv", b"customer_id,segment,segment,start,end\nC1,a,b,c,d\n", "columns",
         "column 'segment' appears twice"),
    ],
)  # fmt: skip
def test_bad_file(tmp_path, world, name, content, where, phrase):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as error:
        load_customers(path, world)
    assert error.value.problems[0][0] == where
    assert first_line(error).startswith(f"{path}: ")
    assert phrase in first_line(error)


def test_header_only_parquet(tmp_path, world):
    path = tmp_path / "customers.parquet"
    pd.DataFrame({c: pd.Series([], dtype=str) for c in HEAD_C.strip().split(",")}).to_parquet(path)
    with pytest.raises(InputError, match="no data rows below the header"):
        load_customers(path, world)


def test_missing_file_and_directory(tmp_path, world):
    with pytest.raises(InputError) as error:
        load_customers(tmp_path / "nothere.csv", world)
    assert first_line(error) == f"{tmp_path / 'nothere.csv'}: no such file"
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        load_customers(tmp_path / "dir.csv", world)


def test_not_utf8(world):
    path = BAD / "customers_latin1.csv"
    with pytest.raises(InputError) as error:
        load_customers(path, world)
    assert first_line(error) == (
        f"{path}: line 3: byte 0xfc is not UTF-8, expected a UTF-8 text file (save as CSV UTF-8)"
    )


def test_ragged_csv(world):
    with pytest.raises(InputError) as error:
        load_responses(BAD / "responses_ragged.csv", world)
    assert "responses_ragged.csv: cannot be read as CSV" in first_line(error)
    assert "line 3" in first_line(error)


def test_not_parquet(world):
    with pytest.raises(InputError) as error:
        load_events(BAD / "not_parquet.parquet", world)
    assert "not_parquet.parquet: cannot be read as Parquet" in first_line(error)


# Survey export ------------------------------------------------------------------------------

EXPORT = """Respondent,Submitted,How was your bill?,Q7,Likely to recommend,Q9
R1,2024-04-01 10:00:00,Very satisfied,  neutral ,10,Advocate
R2,2024-04-02 11:30:00,dissatisfied,,3,
R3,2024-04-03 09:00:00,,4,,loyal
R4,2024-04-03 09:05:00,Neither satisfied nor dissatisfied,VERY DISSATISFIED,7,satisfied
"""
MAPPING = """customer_id: Respondent
date: Submitted
touchpoints:
  How was your bill?: invoice
  Q7: call_centre
nps: Likely to recommend
self_class: Q9
"""


def test_survey_text_answers_become_ratings(tmp_path, world):
    export = write(tmp_path, "export.csv", EXPORT)
    frame = convert_survey(export, write(tmp_path, "mapping.yaml", MAPPING))
    assert list(frame.columns) == [
        "customer_id", "date", "invoice", "call_centre", "nps", "self_class",
    ]  # fmt: skip
    assert frame["invoice"].tolist() == [5, 2, pd.NA, 3]
    assert frame["call_centre"].tolist() == [3, pd.NA, 4, 1]
    assert frame["nps"].tolist() == [10, 3, pd.NA, 7]
    assert frame["self_class"].tolist()[0] == "advocate"
    assert frame["invoice"].dtype == "Int8" and frame["date"].dtype.kind == "M"
    # the converted table is a valid responses table
    path = tmp_path / "responses.csv"
    frame.to_csv(path, index=False)
    pd.testing.assert_frame_equal(load_responses(path, world)[frame.columns], frame)


def test_survey_custom_answers(tmp_path):
    text = "id,when,Q1\nR1,2024-04-01,Excellent\nR2,2024-04-01, poor \n"
    export = write(tmp_path, "export.csv", text)
    mapping = "customer_id: id\ndate: when\ntouchpoints: {Q1: app}\n"
    mapping += "answers: {Excellent: 5, Poor: 1, Satisfied: 3}\n"
    frame = convert_survey(export, write(tmp_path, "mapping.yaml", mapping))
    assert frame["app"].tolist() == [5, 1]
    # the defaults still apply unless overridden
    export = write(
        tmp_path, "export2.csv", "id,when,Q1\nR1,2024-04-01,Satisfied\nR2,2024-04-01,2\n"
    )
    frame = convert_survey(export, write(tmp_path, "mapping.yaml", mapping))
    assert frame["app"].tolist() == [3, 2]


def test_survey_bad_answer(tmp_path):
    export = write(tmp_path, "export.csv", EXPORT.replace("dissatisfied,,3", "meh,,3"))
    with pytest.raises(InputError) as error:
        convert_survey(export, write(tmp_path, "mapping.yaml", MAPPING))
    line = first_line(error)
    assert line.startswith(f"{export}: row 2, column How was your bill?: answer 'meh' is not known")
    assert "expected one of Very dissatisfied, Dissatisfied, Neutral" in line
    assert "a number 1..5 or empty" in line


def test_survey_rating_out_of_range(tmp_path):
    export = write(tmp_path, "export.csv", EXPORT.replace(",4,,loyal", ",6,,loyal"))
    with pytest.raises(InputError, match="row 3, column Q7: answer 6 is not known"):
        convert_survey(export, write(tmp_path, "mapping.yaml", MAPPING))


def test_survey_column_missing_from_export(tmp_path):
    export = write(tmp_path, "export.csv", EXPORT)
    mapping = write(tmp_path, "mapping.yaml", MAPPING.replace("Q7:", "Q8:"))
    with pytest.raises(InputError) as error:
        convert_survey(export, mapping)
    assert first_line(error) == f"{export}: columns: missing 'Q8' (named in mapping.yaml)"


def test_survey_bad_mapping(tmp_path):
    export = write(tmp_path, "export.csv", EXPORT)
    text = "customer_id: Respondent\ntouchpoints: {Q7: app, Q9: app}\nanswer: {}\n"
    text += "answers: {Great: 6}\n"
    mapping = write(tmp_path, "mapping.yaml", text)
    with pytest.raises(InputError) as error:
        convert_survey(export, mapping)
    assert error.value.source == str(mapping)
    wheres = [where for where, _ in error.value.problems]
    assert wheres == ["answer", "date", "touchpoints.Q7", "touchpoints.Q9", "answers.Great"]
    assert "got 6, expected an integer 1..5" in error.value.lines()[-1]


def test_survey_mapping_not_found(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        convert_survey(write(tmp_path, "export.csv", EXPORT), tmp_path / "missing.yaml")
