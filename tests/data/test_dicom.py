import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from cmx_bench.data.images import read_grayscale


def _write_dicom(path, pixels, photometric, window=None):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = pydicom.uid.SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.Modality, ds.PhotometricInterpretation = "DX", photometric
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 16, 12, 11, 0
    if window:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def test_monochrome1_is_inverted(tmp_path):
    ramp = np.tile(np.linspace(0, 4000, 16), (16, 1))
    mono2 = np.asarray(read_grayscale(_write_dicom(tmp_path / "m2.dcm", ramp, "MONOCHROME2")), dtype=int)
    mono1 = np.asarray(read_grayscale(_write_dicom(tmp_path / "m1.dcm", ramp, "MONOCHROME1")), dtype=int)
    assert mono2[0, 0] == 0 and mono2[0, -1] == 255
    assert np.array_equal(mono1, 255 - mono2)


def test_window_is_applied(tmp_path):
    ramp = np.tile(np.linspace(0, 4000, 16), (16, 1))
    windowed = np.asarray(read_grayscale(_write_dicom(tmp_path / "w.dcm", ramp, "MONOCHROME2", window=(1000, 400))))
    # Everything above 1200 saturates to white, everything below 800 to black.
    assert windowed[0, -1] == 255 and windowed[0, 0] == 0 and (windowed[0] == 255).sum() >= 10


def test_rsna_layout_becomes_labelled_dicoms(tmp_path):
    from cmx_bench.data.prepare import from_rsna

    images = tmp_path / "stage_2_train_images"
    images.mkdir()
    rows = [("p-normal", "Normal"), ("p-opacity", "Lung Opacity"), ("p-other", "No Lung Opacity / Not Normal")]
    for patient, _ in rows:
        _write_dicom(images / f"{patient}.dcm", np.tile(np.linspace(0, 4000, 8), (8, 1)), "MONOCHROME2")
    (tmp_path / "stage_2_detailed_class_info.csv").write_text(
        "patientId,class\n" + "".join(f"{p},{c}\n" for p, c in rows) + "p-opacity,Lung Opacity\n")
    items = from_rsna(tmp_path)
    assert [(i.patient_id, i.label) for i in items] == [("rsna-p-normal", "normal"), ("rsna-p-opacity", "pneumonia")]
    assert read_grayscale(items[0].path).size == (8, 8)
