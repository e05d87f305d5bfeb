# Runs one aws:executeScript handler: imports the step's script (or the
# attachment's module), calls handler(events, context) and writes the JSON of
# what it returns to the output file. Exit status 2 means the handler could
# not be found or its result is not JSON.
import importlib
import json
import sys
import traceback


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    sys.path.insert(0, spec["dir"])
    if spec["module"]:
        module_name, func_name = spec["module"], spec["handler"]
        if "." in func_name:
            func_name = func_name.rsplit(".", 1)[1]
    else:
        module_name, _, func_name = spec["handler"].rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception:
        traceback.print_exc()
        print("could not load the script (%s)" % module_name, file=sys.stderr)
        return 2
    handler = getattr(module, func_name, None)
    if not callable(handler):
        print("the script has no function %r (input Handler)" % func_name, file=sys.stderr)
        return 2
    try:
        result = handler(spec["events"], spec["context"])
    except Exception:
        traceback.print_exc()
        return 1
    try:
        text = json.dumps(result, default=str, allow_nan=False)
    except (TypeError, ValueError) as e:
        print("the handler's result is not JSON: %s" % e, file=sys.stderr)
        return 2
    with open(spec["out"], "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
