"""Open a pinprick XDMF index with ParaView 5.11's own readers and check what a user would see.

Run by pvpython (Debian's python3-paraview), under `xvfb-run -a` when --png is given:

  pvpython check_series.py INDEX.xdmf --points N --cells M --times t0,t1,... \
      --point-arrays name:components,... --cell-arrays name:components,... \
      --value point|cell:ARRAY:ID:COMPONENT:EXPECTED [--value ...] [--png out.png]

EXPECTED is a Python expression (math available), written the way the C test computes the
value, so that both give the same double.

Both readers are checked, each with an absolute path (Xdmf3ReaderS breaks on a bare file name;
the keyword is FileName there and FileNames for XDMFReader): the time steps, the point and cell
counts at the last time, that every cell is a VTK hexahedron (12), the array names and component
counts, and one known value at the last time (relative tolerance 1e-14). With --png the series is
rendered at its last time coloured by a cell array (--colour-by), and the picture must not be blank.
Exit status 0 when everything holds, 1 otherwise (ANCHORS.md §5.6, TOOLCHAIN.md §0.7 and §5)."""
import argparse
import math
import os
import sys

from paraview import servermanager
from paraview.simple import (ColorBy, CreateView, Delete, GetAnimationScene, Render, SaveScreenshot, Show,
                             XDMFReader, Xdmf3ReaderS)
from vtkmodules.vtkIOImage import vtkPNGReader

VTK_HEXAHEDRON = 12
failures = []


def fail(text):
    failures.append(text)
    print("FAIL:", text)


def parse_arrays(text):
    result = {}
    for item in filter(None, (text or "").split(",")):
        name, components = item.split(":")
        result[name] = int(components)
    return result


def arrays_of(data):
    return {data.GetArrayName(i): data.GetArray(i).GetNumberOfComponents() for i in range(data.GetNumberOfArrays())}


def check_reader(label, reader, args, times, point_arrays, cell_arrays):
    reader.UpdatePipelineInformation()
    raw = reader.TimestepValues
    # One time step comes back as a plain number, several as a list, none as an empty value.
    got_times = [raw] if isinstance(raw, (int, float)) else list(raw or [])
    if len(got_times) != len(times) or any(abs(a - b) > 1e-15 * max(1.0, abs(b)) for a, b in zip(got_times, times)):
        fail(f"{label}: time steps {got_times}, expected {times}")
    last = times[-1] if times else 0.0
    reader.UpdatePipeline(last)
    grid = servermanager.Fetch(reader)
    if grid.GetNumberOfPoints() != args.points or grid.GetNumberOfCells() != args.cells:
        fail(f"{label}: {grid.GetNumberOfPoints()} points, {grid.GetNumberOfCells()} cells; "
             f"expected {args.points}, {args.cells}")
    not_hex = [i for i in range(grid.GetNumberOfCells()) if grid.GetCellType(i) != VTK_HEXAHEDRON]
    if not_hex:
        fail(f"{label}: {len(not_hex)} cells are not hexahedra (first {not_hex[0]})")
    got_point, got_cell = arrays_of(grid.GetPointData()), arrays_of(grid.GetCellData())
    if got_point != point_arrays:
        fail(f"{label}: point arrays {got_point}, expected {point_arrays}")
    if got_cell != cell_arrays:
        fail(f"{label}: cell arrays {got_cell}, expected {cell_arrays}")
    for spec in args.value:
        where, name, index, component, expression = spec.split(":", 4)
        data = grid.GetPointData() if where == "point" else grid.GetCellData()
        array = data.GetArray(name)
        if array is None:
            fail(f"{label}: no {where} array {name}")
            continue
        value = array.GetComponent(int(index), int(component))
        expected = float(eval(expression, {"math": math}))
        if abs(value - expected) > 1e-14 * max(1.0, abs(expected)):
            fail(f"{label}: {name}[{index}][{component}] = {value!r}, expected {expected!r}")
    print(f"{label}: {len(got_times)} steps, {grid.GetNumberOfPoints()} points, {grid.GetNumberOfCells()} cells, "
          f"point arrays {got_point}, cell arrays {got_cell}")


def render(reader, times, colour_by, png):
    view = CreateView("RenderView")
    view.ViewSize = [640, 480]
    if times:
        GetAnimationScene().UpdateAnimationUsingDataTimeSteps()
        view.ViewTime = times[-1]  # before rescaling, or the colour range comes from t = 0
    display = Show(reader, view)
    display.SetRepresentationType("Surface With Edges")
    ColorBy(display, ("CELLS", colour_by))
    display.RescaleTransferFunctionToDataRange(False, True)
    display.SetScalarBarVisibility(view, True)
    view.ResetCamera()
    camera = view.GetActiveCamera()  # oblique, so the sides (deeper layers) show too
    camera.Elevation(-55)
    camera.Azimuth(30)
    view.ResetCamera()
    Render(view)
    SaveScreenshot(png, view, ImageResolution=[640, 480])
    Delete(view)  # a view alive at exit gives an X error and status 1
    del view
    image_reader = vtkPNGReader()
    image_reader.SetFileName(png)
    image_reader.Update()
    image = image_reader.GetOutput()
    scalars = image.GetPointData().GetScalars()
    components = scalars.GetNumberOfComponents()
    colours = set()
    for i in range(0, image.GetNumberOfPoints(), 7):
        colours.add(tuple(int(scalars.GetComponent(i, c)) for c in range(min(components, 3))))
    print(f"rendered {png}: {len(colours)} distinct colours (sampled)")
    if len(colours) < 20:
        fail(f"{png} looks blank: {len(colours)} distinct colours")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("index")
    parser.add_argument("--points", type=int, required=True)
    parser.add_argument("--cells", type=int, required=True)
    parser.add_argument("--times", required=True)
    parser.add_argument("--point-arrays", default="")
    parser.add_argument("--cell-arrays", default="")
    parser.add_argument("--value", action="append", required=True)
    parser.add_argument("--png")
    parser.add_argument("--colour-by", help="cell array to colour the picture by (default: the first)")
    args = parser.parse_args()
    path = os.path.abspath(args.index)
    if not os.path.isfile(path):
        fail(f"{path} does not exist")
        return 1
    times = [float(t) for t in args.times.split(",") if t]
    point_arrays, cell_arrays = parse_arrays(args.point_arrays), parse_arrays(args.cell_arrays)
    xdmf3 = Xdmf3ReaderS(FileName=path)
    check_reader("Xdmf3ReaderS", xdmf3, args, times, point_arrays, cell_arrays)
    xdmf2 = XDMFReader(FileNames=[path])
    check_reader("XDMFReader", xdmf2, args, times, point_arrays, cell_arrays)
    if args.png:
        render(xdmf3, times, args.colour_by or list(cell_arrays)[0], args.png)
    return 1 if failures else 0


if __name__ == "__main__":
    status = main()
    print("paraview check", "failed" if status else "passed", "for", sys.argv[1])
    sys.exit(status)
