import sys


def pytest_terminal_summary(terminalreporter):
    """The coverage lines of ONNX's node tests (run directly, and through `netdsl import`), when this
    session ran any of them."""
    node_cases = sys.modules.get("node_cases")
    if node_cases is None:
        return
    if node_cases.run_case.cache_info().currsize:
        outcomes = [node_cases.run_case(name) for name in node_cases.node_cases()]
        terminalreporter.write_sep("-", "onnx node tests: cases covered / cases, per mapped op")
        terminalreporter.write_line(node_cases.per_op(outcomes))
        terminalreporter.write_line(node_cases.coverage_line(outcomes))
    import_cases = sys.modules.get("import_cases")
    if import_cases is not None and import_cases.run_import.cache_info().currsize:
        imported = [import_cases.run_import(name) for name in node_cases.collected()]
        terminalreporter.write_line(import_cases.coverage_line(imported))
