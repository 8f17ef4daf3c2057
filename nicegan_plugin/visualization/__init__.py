"""Pictures of a NICE-GAN model at work: the official CAM panels."""
from .cam import ROWS, cam_panel, cam_panels, colorize_heatmap, direction_panel, direction_rows

__all__ = ['ROWS', 'cam_panel', 'cam_panels', 'colorize_heatmap', 'direction_panel',
           'direction_rows']
