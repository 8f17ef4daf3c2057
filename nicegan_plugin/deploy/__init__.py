"""Deployment: exporting one direction as an ONNX or TorchScript file, running such files
(onnxruntime, TorchScript) behind the :class:`~nicegan_plugin.inference.Translator`
interface (the inference-speed benchmark: :mod:`nicegan_plugin.benchmarks.inference`)."""
from .backends import OnnxRuntimeTranslator, TorchScriptTranslator, file_kind, open_translator
from .export import VerificationError, export_translator, model_translator

__all__ = ['OnnxRuntimeTranslator', 'TorchScriptTranslator', 'file_kind', 'open_translator',
           'VerificationError', 'export_translator', 'model_translator']
