import sys


def pytest_terminal_summary(terminalreporter):
    """The coverage line of ONNX's node tests, when this session ran any of them."""
    node_cases = sys.modules.get("node_cases")
    if node_cases is None or not node_cases.run_case.cache_info().currsize:
        return
    outcomes = [node_cases.run_case(name) for name in node_cases.node_cases()]
    terminalreporter.write_sep("-", "onnx node tests: cases covered / cases, per mapped op")
    terminalreporter.write_line(node_cases.per_op(outcomes))
    terminalreporter.write_line(node_cases.coverage_line(outcomes))
