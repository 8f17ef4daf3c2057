"""Pictures of a NICE-GAN model at work: the official CAM panels, labelled grids."""
from .cam import ROWS, cam_panel, cam_panels, colorize_heatmap, direction_panel, direction_rows
from .grid import ROW_LABELS, label_panel, labelled_cam_grid, stack_panels

__all__ = ['ROWS', 'cam_panel', 'cam_panels', 'colorize_heatmap', 'direction_panel',
           'direction_rows', 'ROW_LABELS', 'label_panel', 'labelled_cam_grid', 'stack_panels']
